// Command load is a small closed-loop HTTP load generator for benchmarking a local Gatehouse
// server (the load half of `make bench`). Each of -c clients sends a request, reads the whole
// response, records the latency and outcome, and sends the next one, cycling through the URLs.
//
// It refuses targets that are not on a loopback address unless -allow-non-loopback is given,
// so it cannot be pointed at another machine by accident.
//
// Two helper modes serve scripts/bench.sh: -summary prints a table from saved -json results,
// and -free-port prints a free loopback TCP port.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Limits and defaults.
const (
	maxDuration       = 5 * time.Minute
	maxClients        = 10000
	defaultMaxSamples = 5_000_000
)

// Exit statuses.
const (
	exitOK         = 0
	exitErrorRate  = 1 // the run worked but errors exceeded -max-error-rate
	exitUsage      = 2 // bad flags, refused target or any other setup failure
	exitSetupError = 2
)

const usageHead = `Usage: load [flags] URL...
       load [flags] -urls FILE
       load -summary RESULT.json...
       load -free-port

A closed-loop HTTP load generator. Each of -c clients sends a request to the next URL
(round-robin), reads and discards the whole response, records latency and outcome, and
repeats, for -warmup (discarded) and then -d. Requests still in flight when the time is up
are cancelled and not counted. Redirects are not followed; proxies are not used.

Only loopback targets (127.0.0.0/8, ::1, localhost) are allowed unless -allow-non-loopback.
Latency percentiles are exact over every counted request (errors included), up to 5 million
samples; beyond that a uniform random sample is kept and the output says so.

-summary prints a table (label, req/s, p50, p99, errors) from files written with -json.
-free-port prints a free TCP port on 127.0.0.1 (for scripts; it may be taken again later).

Exit status: 0 done; 1 error rate above -max-error-rate; 2 bad usage or setup failure.

Flags:
`

// program is one invocation of the command; tests replace its hooks.
type program struct {
	stdout, stderr io.Writer

	// lookupIP resolves a host name for the loopback guard. Nil: the system resolver.
	lookupIP func(ctx context.Context, host string) ([]netip.Addr, error)
	// dialContext replaces the transport's dialer. Nil: a dialer that refuses non-loopback
	// addresses unless -allow-non-loopback.
	dialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// maxSamples caps the latency samples kept. Zero: defaultMaxSamples.
	maxSamples int
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	p := &program{stdout: os.Stdout, stderr: os.Stderr}
	code := p.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// mode is what an invocation does.
type mode int

const (
	modeLoad mode = iota
	modeSummary
	modeFreePort
)

// config is the parsed command line.
type config struct {
	mode             mode
	clients          int
	duration         time.Duration
	warmup           time.Duration
	timeout          time.Duration
	headers          http.Header
	host             string // from -H 'Host: ...': sent as the request's Host
	method           string
	body             []byte // nil: no body
	jsonOut          bool
	jsonFile         string // also write the JSON result here
	label            string
	urls             []string
	okStatus         statusSet
	maxErrorRate     float64
	allowNonLoopback bool
	files            []string // -summary inputs
}

// usageError lists every problem found on the command line.
type usageError []string

func (e usageError) Error() string { return strings.Join(e, "; ") }

func (p *program) main(ctx context.Context, args []string) int {
	cfg, err := p.parseFlags(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		var ue usageError
		if !errors.As(err, &ue) {
			ue = usageError{err.Error()}
		}
		for _, problem := range ue {
			fmt.Fprintf(p.stderr, "load: %s\n", problem)
		}
		return exitUsage
	}

	switch cfg.mode {
	case modeSummary:
		if err := printSummary(p.stdout, cfg.files); err != nil {
			fmt.Fprintf(p.stderr, "load: %v\n", err)
			return exitSetupError
		}
		return exitOK
	case modeFreePort:
		port, err := freePort(ctx)
		if err != nil {
			fmt.Fprintf(p.stderr, "load: %v\n", err)
			return exitSetupError
		}
		fmt.Fprintln(p.stdout, port)
		return exitOK
	}

	if err := p.checkTargets(ctx, cfg); err != nil {
		fmt.Fprintf(p.stderr, "load: %v\n", err)
		return exitSetupError
	}
	res := p.run(ctx, cfg)
	if cfg.jsonOut {
		err = res.writeJSON(p.stdout)
	} else {
		err = res.writeText(p.stdout)
	}
	if err == nil && cfg.jsonFile != "" {
		err = res.writeJSONFile(cfg.jsonFile)
	}
	if err != nil {
		fmt.Fprintf(p.stderr, "load: write result: %v\n", err)
		return exitSetupError
	}
	if res.Interrupted {
		fmt.Fprintln(p.stderr, "load: interrupted; the result covers the time measured so far")
	}
	if cfg.maxErrorRate < 1 {
		if res.Requests == 0 {
			fmt.Fprintln(p.stderr, "load: no requests were counted")
			return exitErrorRate
		}
		if res.ErrorRate > cfg.maxErrorRate {
			fmt.Fprintf(p.stderr, "load: error rate %.2f%% is above -max-error-rate %.2f%%\n",
				100*res.ErrorRate, 100*cfg.maxErrorRate)
			return exitErrorRate
		}
	}
	return exitOK
}

// parseFlags parses and validates the command line, reporting every problem at once. It
// prints the usage text itself: to stdout for -h, to stderr after a problem.
func (p *program) parseFlags(args []string) (*config, error) {
	cfg := &config{headers: http.Header{}}
	var (
		headers  headerFlags
		body     string
		urlsFile string
		okStatus string
		summary  bool
		freePort bool
	)
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.IntVar(&cfg.clients, "c", 16, "concurrent `clients`")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "measured `duration` (at most 5m)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "warm-up `duration` before measuring; its results are discarded")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Second, "per-request `timeout`, reading the body included")
	fs.Var(&headers, "H", "request `header` as 'Name: value' (repeatable; 'Host: x' sets the Host)")
	fs.StringVar(&cfg.method, "method", http.MethodGet, "request `method`")
	fs.StringVar(&body, "body", "", "request `body`: a string, or @file to read it from a file")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON object")
	fs.StringVar(&cfg.jsonFile, "json-file", "", "also write the result as JSON to `file` (for -summary)")
	fs.StringVar(&cfg.label, "label", "", "`name` shown in the output (default: the first URL)")
	fs.StringVar(&urlsFile, "urls", "", "read URLs from `file`, one per line (# comments and blank lines skipped)")
	fs.StringVar(&okStatus, "ok-status", "2xx", "statuses that count as success: `list` of codes, ranges (200-399) or classes (2xx)")
	fs.Float64Var(&cfg.maxErrorRate, "max-error-rate", 1.0, "exit 1 when the fraction of errors is above `rate` (1: never)")
	fs.BoolVar(&cfg.allowNonLoopback, "allow-non-loopback", false, "allow targets that are not loopback addresses")
	fs.BoolVar(&summary, "summary", false, "print a table from the -json result files given as arguments")
	fs.BoolVar(&freePort, "free-port", false, "print a free TCP port on 127.0.0.1 and exit")
	usage := func(w io.Writer) {
		fmt.Fprint(w, usageHead)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(p.stdout)
			return nil, err
		}
		usage(p.stderr)
		return nil, err
	}

	var problems []string
	add := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	switch {
	case summary && freePort:
		add("-summary and -free-port cannot be combined")
	case summary:
		cfg.mode = modeSummary
		cfg.files = fs.Args()
		if len(cfg.files) == 0 {
			add("-summary needs one or more result files")
		}
	case freePort:
		cfg.mode = modeFreePort
		if fs.NArg() > 0 {
			add("-free-port takes no arguments")
		}
	}
	if cfg.mode != modeLoad {
		return cfg, joinProblems(problems, p.stderr, usage)
	}

	if cfg.clients < 1 || cfg.clients > maxClients {
		add("-c: %d is not between 1 and %d", cfg.clients, maxClients)
	}
	if cfg.duration <= 0 || cfg.duration > maxDuration {
		add("-d: %s must be above 0 and at most %s", cfg.duration, maxDuration)
	}
	if cfg.warmup < 0 || cfg.warmup > maxDuration {
		add("-warmup: %s must be from 0 to %s", cfg.warmup, maxDuration)
	}
	if cfg.timeout <= 0 {
		add("-timeout: %s must be positive", cfg.timeout)
	}
	if cfg.maxErrorRate < 0 || cfg.maxErrorRate > 1 {
		add("-max-error-rate: %g is not between 0 and 1", cfg.maxErrorRate)
	}
	if !validToken(cfg.method) {
		add("-method: %q is not a valid HTTP method", cfg.method)
	}
	set, err := parseStatusSet(okStatus)
	if err != nil {
		add("-ok-status: %v", err)
	}
	cfg.okStatus = set
	for _, h := range headers {
		if strings.EqualFold(h.name, "Host") {
			cfg.host = h.value
			continue
		}
		cfg.headers.Add(h.name, h.value)
	}
	if name, ok := strings.CutPrefix(body, "@"); ok {
		b, err := os.ReadFile(filepath.Clean(name))
		if err != nil {
			add("-body: %v", err)
		}
		cfg.body = b
	} else if body != "" {
		cfg.body = []byte(body)
	}

	if cfg.jsonFile != "" {
		if fi, err := os.Stat(filepath.Dir(cfg.jsonFile)); err != nil || !fi.IsDir() {
			add("-json-file: no directory %s", filepath.Dir(cfg.jsonFile))
		}
	}
	cfg.urls = append(cfg.urls, fs.Args()...)
	if urlsFile != "" {
		urls, err := readURLFile(urlsFile)
		if err != nil {
			add("-urls: %v", err)
		}
		cfg.urls = append(cfg.urls, urls...)
	}
	if len(cfg.urls) == 0 {
		add("no URLs given")
	}
	for _, u := range cfg.urls {
		if _, err := parseTarget(u); err != nil {
			add("%v", err)
		}
	}
	if cfg.label == "" && len(cfg.urls) > 0 {
		cfg.label = cfg.urls[0]
		if len(cfg.urls) > 1 {
			cfg.label += fmt.Sprintf(" (+%d more)", len(cfg.urls)-1)
		}
	}
	return cfg, joinProblems(problems, p.stderr, usage)
}

// joinProblems turns the collected problems into one error, printing the usage text if any.
func joinProblems(problems []string, stderr io.Writer, usage func(io.Writer)) error {
	if len(problems) == 0 {
		return nil
	}
	usage(stderr)
	fmt.Fprintln(stderr)
	return usageError(problems)
}

// readURLFile reads one URL per line, skipping blank lines and # comments.
func readURLFile(name string) ([]string, error) {
	b, err := os.ReadFile(filepath.Clean(name))
	if err != nil {
		return nil, err
	}
	var urls []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		urls = append(urls, line)
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s: no URLs", name)
	}
	return urls, nil
}

// header is one -H flag.
type header struct{ name, value string }

// headerFlags collects repeated -H 'Name: value' flags.
type headerFlags []header

func (h *headerFlags) String() string { return "" }

func (h *headerFlags) Set(s string) error {
	name, value, ok := strings.Cut(s, ":")
	name = strings.TrimSpace(name)
	if !ok || !validToken(name) {
		return fmt.Errorf("%q is not 'Name: value'", s)
	}
	*h = append(*h, header{name: name, value: strings.TrimSpace(value)})
	return nil
}

// validToken reports whether s is an HTTP token (a method or header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(ctx context.Context) (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	return port, nil
}
