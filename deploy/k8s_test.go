package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/kustomize/api/krusty"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// strictDecoder decodes the API groups the manifests use; unknown or duplicate fields are
// errors (apimachinery's strict serializer), as kubectl --validate=strict would report them.
var strictDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		autoscalingv2.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		utilruntime.Must(add(scheme))
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

const k8sDir = "deploy/k8s"

// splitYAML returns the non-empty documents of a multi-document YAML file.
func splitYAML(t *testing.T, name string, raw []byte) [][]byte {
	t.Helper()
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) > 0 {
			docs = append(docs, doc)
		}
	}
}

func stripComments(doc []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(doc, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

// The decoder is strict: a misspelt field fails (so the tests below cannot pass vacuously).
func TestK8sStrictDecoderRefusesUnknownFields(t *testing.T) {
	good := []byte("apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: 1}\n")
	if _, _, err := strictDecoder.Decode(good, nil, nil); err != nil {
		t.Fatalf("valid object refused: %v", err)
	}
	for _, bad := range []string{
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailabel: 1}\n",
		"apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: 1, maxUnavailable: 2}\n",
		"apiVersion: policy/v1\nkind: PodDisruptionBudgetz\nmetadata: {name: x}\n",
	} {
		if _, _, err := strictDecoder.Decode([]byte(bad), nil, nil); err == nil {
			t.Errorf("accepted:\n%s", bad)
		}
	}
}

// Every file under deploy/k8s decodes strictly: kustomization files as kustomize's own type,
// everything else (resources and patches) as the Kubernetes API type its kind names.
func TestK8sManifestsDecodeStrictly(t *testing.T) {
	root := filepath.Join(repoRoot(t), k8sDir)
	var files int
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repoRoot(t), p)
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			t.Errorf("%s: only YAML belongs under %s", rel, k8sDir)
			return nil
		}
		files++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if filepath.Base(p) == "kustomization.yaml" {
			var k kusttypes.Kustomization
			if err := yaml.UnmarshalStrict(raw, &k); err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			return nil
		}
		for i, doc := range splitYAML(t, rel, raw) {
			if _, gvk, err := strictDecoder.Decode(doc, nil, nil); err != nil {
				t.Errorf("%s (document %d, %v): %v", rel, i+1, gvk, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 12 {
		t.Fatalf("only %d files under %s", files, k8sDir)
	}
}

// rendered is one kustomization's output, decoded into API types.
type rendered struct {
	deployments  []*appsv1.Deployment
	services     []*corev1.Service
	configMaps   []*corev1.ConfigMap
	accounts     []*corev1.ServiceAccount
	jobs         []*batchv1.Job
	hpas         []*autoscalingv2.HorizontalPodAutoscaler
	pdbs         []*policyv1.PodDisruptionBudget
	netpols      []*networkingv1.NetworkPolicy
	namespaces   map[string]bool
	unknownKinds []string
}

// render builds a kustomization with the kustomize library (what `kubectl kustomize` runs)
// and decodes every object strictly.
func render(t *testing.T, dir string) *rendered {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out := &rendered{namespaces: map[string]bool{}}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, gvk, err := strictDecoder.Decode(y, nil, nil)
		if err != nil {
			t.Fatalf("%s: rendered %s does not decode strictly: %v\n%s", dir, r.CurId(), err, y)
		}
		if mo, ok := obj.(metav1.Object); ok {
			out.namespaces[mo.GetNamespace()] = true
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out.deployments = append(out.deployments, o)
		case *corev1.Service:
			out.services = append(out.services, o)
		case *corev1.ConfigMap:
			out.configMaps = append(out.configMaps, o)
		case *corev1.ServiceAccount:
			out.accounts = append(out.accounts, o)
		case *batchv1.Job:
			out.jobs = append(out.jobs, o)
		case *autoscalingv2.HorizontalPodAutoscaler:
			out.hpas = append(out.hpas, o)
		case *policyv1.PodDisruptionBudget:
			out.pdbs = append(out.pdbs, o)
		case *networkingv1.NetworkPolicy:
			out.netpols = append(out.netpols, o)
		default:
			// A Secret lands here too: values never belong in these manifests.
			out.unknownKinds = append(out.unknownKinds, gvk.Kind)
		}
	}
	return out
}

func (r *rendered) configMap(name string) *corev1.ConfigMap {
	for _, cm := range r.configMaps {
		if cm.Name == name {
			return cm
		}
	}
	return nil
}

func selects(t reporter, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil {
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatalf("selector %v: %v", sel, err)
	}
	return !s.Empty() && s.Matches(labels.Set(podLabels))
}

// containerPort resolves a probe, service or policy port (number or name) to a container port.
func containerPort(c corev1.Container, p intstr.IntOrString) (int32, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp.ContainerPort, true
		}
	}
	return 0, false
}

func TestK8sOverlays(t *testing.T) {
	names := configEnvNames(t)
	user := dockerfileFinalUser(t)
	for _, tc := range []struct {
		dir       string
		namespace string
		replicas  int32
		env       string
	}{
		{"deploy/k8s/base", "", 2, "production"},
		{"deploy/k8s/overlays/dev", "gatehouse-dev", 1, "development"},
		{"deploy/k8s/overlays/prod", "gatehouse", 3, "production"},
	} {
		t.Run(path.Base(tc.dir), func(t *testing.T) {
			r := render(t, tc.dir)
			checkRendered(t, r, names, user)
			if !r.namespaces[tc.namespace] || len(r.namespaces) != 1 {
				t.Errorf("namespaces %v, want only %q", r.namespaces, tc.namespace)
			}
			d := r.deployments[0]
			if got := *d.Spec.Replicas; got != tc.replicas {
				t.Errorf("replicas %d, want %d", got, tc.replicas)
			}
			cm := r.configMap(d.Spec.Template.Spec.Containers[0].EnvFrom[0].ConfigMapRef.Name)
			if got := cm.Data["GATEHOUSE_ENV"]; got != tc.env {
				t.Errorf("GATEHOUSE_ENV=%q, want %q", got, tc.env)
			}
			image := d.Spec.Template.Spec.Containers[0].Image
			if tc.dir == "deploy/k8s/base" {
				return
			}
			name, tag, ok := strings.Cut(path.Base(image), ":")
			if !ok || name == "" || tag == "" || tag == "latest" {
				t.Errorf("image %q: an overlay pins a tag (not latest)", image)
			}
			if tc.env == "production" {
				if tag == "dev" || cm.Data["GATEHOUSE_COOKIE_SECURE"] == "false" || cm.Data["GATEHOUSE_LOG_LEVEL"] == "debug" {
					t.Errorf("production overlay with development settings: image %q, config %v", image, cm.Data)
				}
				// Production ingress is narrowed to named namespaces, not the whole cluster.
				for _, np := range r.netpols {
					for _, rule := range np.Spec.Ingress {
						for _, peer := range rule.From {
							if peer.NamespaceSelector != nil && len(peer.NamespaceSelector.MatchLabels)+len(peer.NamespaceSelector.MatchExpressions) == 0 {
								t.Errorf("NetworkPolicy %s admits every namespace in production", np.Name)
							}
						}
					}
				}
			}
		})
	}
}

// checkRendered asserts what every rendering (base and overlays) must satisfy.
func checkRendered(t reporter, r *rendered, names map[string]bool, dockerUser string) {
	t.Helper()
	if len(r.unknownKinds) > 0 {
		t.Errorf("unexpected kinds (a Secret with values, or an API group this test does not know): %v", r.unknownKinds)
	}
	if len(r.deployments) != 1 || len(r.services) != 1 || len(r.jobs) != 1 || len(r.hpas) != 1 || len(r.pdbs) != 1 || len(r.accounts) != 1 || len(r.configMaps) != 1 || len(r.netpols) != 2 {
		t.Fatalf("want one each of Deployment, Service, Job, HPA, PDB, ServiceAccount, ConfigMap and two NetworkPolicies; got %d %d %d %d %d %d %d %d",
			len(r.deployments), len(r.services), len(r.jobs), len(r.hpas), len(r.pdbs), len(r.accounts), len(r.configMaps), len(r.netpols))
	}
	d, job := r.deployments[0], r.jobs[0]
	podLabels := d.Spec.Template.Labels
	if !selects(t, d.Spec.Selector, podLabels) {
		t.Errorf("Deployment selector %v does not match its pod labels %v", d.Spec.Selector, podLabels)
	}
	if selects(t, d.Spec.Selector, job.Spec.Template.Labels) {
		t.Error("the Deployment's selector also matches the migration Job's pods")
	}
	if len(d.Spec.Template.Spec.Containers) != 1 || len(job.Spec.Template.Spec.Containers) != 1 {
		t.Fatal("want exactly one container in the Deployment and in the Job")
	}
	c, jc := d.Spec.Template.Spec.Containers[0], job.Spec.Template.Spec.Containers[0]

	// Probes on the real endpoints and a real port.
	for _, p := range []struct {
		what  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/livez"}, {"readiness", c.ReadinessProbe, "/readyz"}, {"startup", c.StartupProbe, "/livez"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe: want GET %s, got %+v", p.what, p.path, p.probe)
			continue
		}
		if _, ok := containerPort(c, p.probe.HTTPGet.Port); !ok {
			t.Errorf("%s probe port %s is not a container port", p.what, p.probe.HTTPGet.Port.String())
		}
	}
	if !slices.Equal(c.Args, []string{"serve"}) || !slices.Equal(jc.Args, []string{"migrate", "up"}) {
		t.Errorf("args: server %v, job %v", c.Args, jc.Args)
	}
	if c.Image != jc.Image {
		t.Errorf("the migration Job runs %q, the Deployment %q: migrations must come from the same image", jc.Image, c.Image)
	}

	for _, w := range []struct {
		what string
		pod  corev1.PodSpec
	}{{"Deployment", d.Spec.Template.Spec}, {"Job", job.Spec.Template.Spec}} {
		checkPodSecurity(t, w.what, w.pod, dockerUser)
		checkPodEnv(t, w.what, r, w.pod, names)
		if w.pod.ServiceAccountName != r.accounts[0].Name {
			t.Errorf("%s: service account %q is not the rendered %q", w.what, w.pod.ServiceAccountName, r.accounts[0].Name)
		}
		if w.pod.AutomountServiceAccountToken == nil || *w.pod.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a Kubernetes API token it never uses", w.what)
		}
		for _, ct := range w.pod.Containers {
			req, lim := ct.Resources.Requests, ct.Resources.Limits
			if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() || lim.Cpu().IsZero() {
				t.Errorf("%s/%s: resources must set cpu and memory requests and limits: %+v", w.what, ct.Name, ct.Resources)
			}
			if lim.Memory().Cmp(*req.Memory()) < 0 {
				t.Errorf("%s/%s: memory limit below request", w.what, ct.Name)
			}
		}
	}
	if job.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever || job.Spec.BackoffLimit == nil || job.Spec.ActiveDeadlineSeconds == nil {
		t.Errorf("migration Job: want restartPolicy Never, a backoffLimit and a deadline")
	}

	// Replicas land on different nodes.
	aff := d.Spec.Template.Spec.Affinity
	var antiOK bool
	if aff != nil && aff.PodAntiAffinity != nil {
		terms := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		for _, w := range aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution {
			terms = append(terms, w.PodAffinityTerm)
		}
		for _, term := range terms {
			antiOK = antiOK || (term.TopologyKey == "kubernetes.io/hostname" && selects(t, term.LabelSelector, podLabels))
		}
	}
	if !antiOK {
		t.Error("no pod anti-affinity on kubernetes.io/hostname selecting the Deployment's own pods")
	}

	// Service → pods and port.
	svc := r.services[0]
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, podLabels) {
		t.Errorf("Service selector %v does not match the pods %v", svc.Spec.Selector, podLabels)
	}
	for _, p := range svc.Spec.Ports {
		if _, ok := containerPort(c, p.TargetPort); !ok {
			t.Errorf("Service port %d targets %s, which is not a container port", p.Port, p.TargetPort.String())
		}
	}

	// HPA scales this Deployment, around its replica count.
	hpa := r.hpas[0]
	ref := hpa.Spec.ScaleTargetRef
	if ref.Kind != "Deployment" || ref.Name != d.Name || ref.APIVersion != "apps/v1" {
		t.Errorf("HPA targets %s %s/%s, not Deployment %s", ref.APIVersion, ref.Kind, ref.Name, d.Name)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 1 || *hpa.Spec.MinReplicas > hpa.Spec.MaxReplicas || len(hpa.Spec.Metrics) == 0 {
		t.Errorf("HPA bounds/metrics: %+v", hpa.Spec)
	} else if reps := *d.Spec.Replicas; reps < *hpa.Spec.MinReplicas || reps > hpa.Spec.MaxReplicas {
		t.Errorf("Deployment replicas %d outside the HPA's [%d, %d]", reps, *hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
	}

	// PDB protects these pods and still lets a node drain.
	pdb := r.pdbs[0]
	if !selects(t, pdb.Spec.Selector, podLabels) || selects(t, pdb.Spec.Selector, job.Spec.Template.Labels) {
		t.Errorf("PDB selector %v must match the server pods only", pdb.Spec.Selector)
	}
	switch {
	case pdb.Spec.MaxUnavailable != nil:
		if pdb.Spec.MaxUnavailable.Type == intstr.Int && pdb.Spec.MaxUnavailable.IntVal < 1 {
			t.Error("PDB maxUnavailable < 1 blocks every drain")
		}
	case pdb.Spec.MinAvailable != nil:
		if pdb.Spec.MinAvailable.Type == intstr.Int && pdb.Spec.MinAvailable.IntVal >= *hpa.Spec.MinReplicas {
			t.Error("PDB minAvailable >= the HPA's minimum blocks drains")
		}
	default:
		t.Error("PDB sets neither maxUnavailable nor minAvailable")
	}

	checkNetworkPolicies(t, r.netpols, c, podLabels, job.Spec.Template.Labels)
}

func checkPodSecurity(t reporter, what string, pod corev1.PodSpec, dockerUser string) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("%s: pod securityContext must run as a non-root uid: %+v", what, psc)
	} else if uid := dockerUser; !strings.HasPrefix(uid, strconv.FormatInt(*psc.RunAsUser, 10)+":") && uid != strconv.FormatInt(*psc.RunAsUser, 10) {
		t.Errorf("%s: runAsUser %d differs from the image's USER %s", what, *psc.RunAsUser, dockerUser)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod seccompProfile must be RuntimeDefault", what)
	}
	for _, ct := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
		sc := ct.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s/%s: no securityContext", what, ct.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s/%s: allowPrivilegeEscalation must be false", what, ct.Name)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s/%s: readOnlyRootFilesystem must be true", what, ct.Name)
		case sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0:
			t.Errorf("%s/%s: capabilities must drop ALL and add none", what, ct.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s/%s: privileged", what, ct.Name)
		}
	}
}

// checkPodEnv: every GATEHOUSE_* name is a real setting, credentials come from Secrets only,
// and the master key file points into a mounted Secret.
func checkPodEnv(t reporter, what string, r *rendered, pod corev1.PodSpec, names map[string]bool) {
	t.Helper()
	for _, ct := range pod.Containers {
		effective := map[string]string{} // name → where it comes from
		for _, ef := range ct.EnvFrom {
			if ef.ConfigMapRef == nil {
				t.Errorf("%s/%s: envFrom other than a ConfigMap: %+v", what, ct.Name, ef)
				continue
			}
			cm := r.configMap(ef.ConfigMapRef.Name)
			if cm == nil {
				t.Errorf("%s/%s: envFrom ConfigMap %q is not rendered", what, ct.Name, ef.ConfigMapRef.Name)
				continue
			}
			for k, v := range cm.Data {
				effective[k] = "configmap:" + v
				if secretEnv.MatchString(k) {
					t.Errorf("ConfigMap %s holds %s: credentials belong in a Secret", cm.Name, k)
				}
			}
		}
		for _, e := range ct.Env {
			switch {
			case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
				effective[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
			case secretEnv.MatchString(e.Name):
				t.Errorf("%s/%s: %s is not taken from a Secret", what, ct.Name, e.Name)
			default:
				effective[e.Name] = "value:" + e.Value
			}
		}
		for name := range effective {
			if strings.HasPrefix(name, "GATEHOUSE_") {
				if !names[name] {
					t.Errorf("%s/%s: %s is not a configuration setting (docs/configuration.md)", what, ct.Name, name)
				}
			} else if name != "GOMEMLIMIT" {
				t.Errorf("%s/%s: unexpected variable %s", what, ct.Name, name)
			}
		}
		if _, ok := effective["GATEHOUSE_MASTER_KEY"]; ok {
			t.Errorf("%s/%s: the master key comes from a mounted file (GATEHOUSE_MASTER_KEY_FILE), never the environment", what, ct.Name)
		}
		if !strings.HasPrefix(effective["GATEHOUSE_DATABASE_URL"], "secret:") {
			t.Errorf("%s/%s: GATEHOUSE_DATABASE_URL must come from a Secret, got %q", what, ct.Name, effective["GATEHOUSE_DATABASE_URL"])
		}
		keyFile := strings.TrimPrefix(strings.TrimPrefix(effective["GATEHOUSE_MASTER_KEY_FILE"], "configmap:"), "value:")
		if keyFile == "" || !mountedFromSecret(pod, ct, keyFile) {
			t.Errorf("%s/%s: GATEHOUSE_MASTER_KEY_FILE=%q is not a file of a mounted Secret", what, ct.Name, keyFile)
		}
	}
}

// mountedFromSecret reports whether file is an item of a Secret volume mounted in ct.
func mountedFromSecret(pod corev1.PodSpec, ct corev1.Container, file string) bool {
	for _, m := range ct.VolumeMounts {
		rel, ok := strings.CutPrefix(file, strings.TrimSuffix(m.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name != m.Name || v.Secret == nil {
				continue
			}
			for _, it := range v.Secret.Items {
				if it.Path == rel {
					return m.ReadOnly
				}
			}
		}
	}
	return false
}

func checkNetworkPolicies(t reporter, nps []*networkingv1.NetworkPolicy, c corev1.Container, serverLabels, jobLabels map[string]string) {
	t.Helper()
	allowsEgress := func(np *networkingv1.NetworkPolicy, proto corev1.Protocol, port int32) bool {
		for _, rule := range np.Spec.Egress {
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntVal == port && (p.Protocol == nil || *p.Protocol == proto) {
					return true
				}
			}
		}
		return false
	}
	var server, job *networkingv1.NetworkPolicy
	for _, np := range nps {
		sel := np.Spec.PodSelector
		switch {
		case selects(t, &sel, serverLabels) && selects(t, &sel, jobLabels):
			t.Errorf("NetworkPolicy %s selects the server and the Job alike", np.Name)
		case selects(t, &sel, serverLabels):
			server = np
		case selects(t, &sel, jobLabels):
			job = np
		default:
			t.Errorf("NetworkPolicy %s selects no Gatehouse pod (selector %v)", np.Name, sel)
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("NetworkPolicy %s must govern ingress and egress: %v", np.Name, np.Spec.PolicyTypes)
		}
	}
	if server == nil || job == nil {
		t.Fatal("want a NetworkPolicy for the server pods and one for the migration Job")
	}
	if len(server.Spec.Ingress) == 0 {
		t.Error("the server's NetworkPolicy admits no traffic at all")
	}
	for _, rule := range server.Spec.Ingress {
		if len(rule.Ports) == 0 {
			t.Error("a server ingress rule admits every port")
		}
		for _, p := range rule.Ports {
			if p.Port == nil {
				t.Error("a server ingress rule admits every port")
			} else if _, ok := containerPort(c, *p.Port); !ok {
				t.Errorf("server ingress port %s is not a container port", p.Port.String())
			}
		}
	}
	for _, need := range []struct {
		proto corev1.Protocol
		port  int32
	}{{corev1.ProtocolUDP, 53}, {corev1.ProtocolTCP, 5432}, {corev1.ProtocolTCP, 6379}} {
		if !allowsEgress(server, need.proto, need.port) {
			t.Errorf("server egress lacks %s/%d", need.proto, need.port)
		}
	}
	if len(job.Spec.Ingress) != 0 || !allowsEgress(job, corev1.ProtocolUDP, 53) || !allowsEgress(job, corev1.ProtocolTCP, 5432) {
		t.Errorf("the migration Job's policy: no ingress, egress to DNS and PostgreSQL; got %+v", job.Spec)
	}
}

// The Secret the manifests reference is documented: every key, in the command operators run.
func TestK8sSecretKeysDocumented(t *testing.T) {
	r := render(t, "deploy/k8s/overlays/prod")
	keys := map[string]bool{}
	for _, pod := range []corev1.PodSpec{r.deployments[0].Spec.Template.Spec, r.jobs[0].Spec.Template.Spec} {
		for _, v := range pod.Volumes {
			if v.Secret != nil {
				for _, it := range v.Secret.Items {
					keys[v.Secret.SecretName+"/"+it.Key] = true
				}
			}
		}
		for _, ct := range pod.Containers {
			for _, e := range ct.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					keys[e.ValueFrom.SecretKeyRef.Name+"/"+e.ValueFrom.SecretKeyRef.Key] = true
				}
			}
		}
	}
	if len(keys) < 3 {
		t.Fatalf("only %v referenced", keys)
	}
	ops := string(readFile(t, "docs/operations.md"))
	for k := range keys {
		name, key, _ := strings.Cut(k, "/")
		if !strings.Contains(ops, "create secret generic "+name) || !strings.Contains(ops, "--from-literal="+key+"=") && !strings.Contains(ops, "--from-file="+key+"=") {
			t.Errorf("docs/operations.md does not show how to create %s", k)
		}
	}
}
