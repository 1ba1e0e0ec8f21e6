// Command gatehouse is the Gatehouse server and its operator CLI.
//
//	gatehouse serve                  run the HTTP API
//	gatehouse migrate up|down|status apply, roll back (one step) or list migrations
//	gatehouse config print|docs      show the effective configuration (secrets masked) or its reference
//	gatehouse version                print the build version
//
// Every subcommand takes --config FILE (YAML); GATEHOUSE_* environment variables override it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"

	"gatehouse/server/internal/app"
	"gatehouse/server/internal/buildinfo"
	"gatehouse/server/internal/config"
	"gatehouse/server/internal/store"
)

const usage = `Usage: gatehouse <command> [--config FILE] [arguments]

Commands:
  serve                   run the HTTP API (migrates first when GATEHOUSE_AUTO_MIGRATE is on)
  migrate up              apply every pending migration
  migrate down [--all]    roll back the latest migration (or all of them)
  migrate status          list migrations and whether each is applied
  admin create --email E [--role R]... [--password P]
                          create an account (the password is read from standard input when not given)
  admin reset-password --email E [--password P]
                          set a new password and end every session of the account
  keys rotate [signing]   start signing access tokens with a new key (old tokens stay valid until they expire)
  keys rotate master      add a master key version: new values are sealed with it, stored ones are re-wrapped in the background
  bench hash              measure raw argon2id hashes/s (see docs/benchmarks.md)
  healthcheck [--url U] [--live]
                          probe the local server's /readyz (or /livez): exit 0 healthy, 1 not (container HEALTHCHECK)
  config print            print the effective configuration, secrets masked
  config docs             print the configuration reference (docs/configuration.md)
  version                 print the build version

Configuration: GATEHOUSE_* environment variables, optionally over a YAML file (--config).
See docs/configuration.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal starts a graceful stop; the default action is then back, so a second
	// one ends the process at once instead of waiting out the shutdown delay and drain.
	context.AfterFunc(ctx, stop)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it with their own arguments and environment.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, rest, stderr, environ)
	case "migrate":
		err = migrateCmd(ctx, rest, stdout, stderr, environ)
	case "config":
		err = configCmd(rest, stdout, stderr, environ)
	case "admin":
		err = adminCmd(ctx, rest, stdin, stdout, stderr, environ)
	case "keys":
		err = keysCmd(ctx, rest, stdout, stderr, environ)
	case "healthcheck":
		err = healthcheckCmd(ctx, rest, stdout, stderr, environ)
	case "bench":
		err = benchCmd(ctx, rest, stdout, stderr, environ)
	case "version":
		v := buildinfo.Get()
		fmt.Fprintf(stdout, "gatehouse %s (commit %s, built %s, %s)\n", v.Version, orNone(v.Commit), orNone(v.BuildDate), v.GoVersion)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, errUsage) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "gatehouse %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// loadConfig parses --config from args and loads the configuration.
func loadConfig(name string, args []string, stderr io.Writer, environ []string, extra func(*flag.FlagSet)) (config.Config, []string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return config.Config{}, nil, errUsage
	}
	cfg, err := config.Load(*path, environ)
	return cfg, fs.Args(), err
}

func serve(ctx context.Context, args []string, stderr io.Writer, environ []string) error {
	cfg, rest, err := loadConfig("serve", args, stderr, environ, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errUsage
	}
	logger := app.NewLogger(stderr, cfg.Log.Level, cfg.Log.Format)
	slog.SetDefault(logger)
	tuneRuntime(cfg.Runtime, environ, logger)
	a, err := app.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.HTTP.Addr, err)
	}
	return a.Serve(ctx, ln)
}

func migrateCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		return errUsage
	}
	sub := args[0]
	var all bool
	cfg, rest, err := loadConfig("migrate "+sub, args[1:], stderr, environ, func(fs *flag.FlagSet) {
		if sub == "down" {
			fs.BoolVar(&all, "all", false, "roll back every migration")
		}
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errUsage
	}
	db, err := app.OpenDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	m, err := db.Migrator()
	if err != nil {
		return err
	}
	switch sub {
	case "up", "down":
		var steps []store.MigrationStep
		switch {
		case sub == "up":
			steps, err = m.Up(ctx)
		case all:
			steps, err = m.DownTo(ctx, 0)
		default:
			steps, err = m.Down(ctx)
		}
		for _, s := range steps {
			fmt.Fprintf(stdout, "%s %05d %s (%s)\n", s.Direction, s.Version, s.Name, s.Duration.Round(1000))
		}
		if err == nil && len(steps) == 0 {
			fmt.Fprintln(stdout, "nothing to do")
		}
		return err
	case "status":
		st, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT\n")
		for _, s := range st {
			state, at := "pending", ""
			if s.Applied {
				state, at = "applied", s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			fmt.Fprintf(tw, "%05d\t%s\t%s\t%s\n", s.Version, s.Name, state, at)
		}
		fmt.Fprintf(tw, "(%s)\n", db.Dialect())
		return tw.Flush()
	default:
		return errUsage
	}
}

func configCmd(args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		return errUsage
	}
	switch args[0] {
	case "docs":
		fmt.Fprint(stdout, config.Markdown())
		return nil
	case "print":
		cfg, rest, err := loadConfig("config print", args[1:], stderr, environ, nil)
		var verr *config.ValidationError
		if err != nil && !errors.As(err, &verr) {
			return err
		}
		if len(rest) > 0 {
			return errUsage
		}
		fmt.Fprint(stdout, cfg.Print())
		// Print first, then say what is wrong: that is when an operator most needs both.
		return err
	default:
		return errUsage
	}
}
