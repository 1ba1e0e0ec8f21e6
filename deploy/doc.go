// Package deploy holds no code. Its tests validate the files that deploy Gatehouse, none of
// which a Docker engine or a Kubernetes cluster can check here: the Dockerfile (parsed with
// BuildKit's own parser, and its build command run outside Docker), docker-compose.yml (loaded
// with compose-go), the kustomize base and overlays under k8s/ (rendered with kustomize and
// decoded strictly with the Kubernetes API types) and the GitHub Actions workflows (actionlint).
//
// The set of valid GATEHOUSE_* names comes from docs/configuration.md, which a server test
// keeps equal to the configuration struct tags; this module cannot import the server's
// internal packages, and reading the generated reference keeps it independent of the server's
// build. binary_test.go closes the loop with the real binary.
package deploy
