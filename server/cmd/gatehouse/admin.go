package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"gatehouse/server/internal/app"
)

// stringList is a repeatable flag that also accepts comma-separated values.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// openApp wires the whole server (database, keyring, services) for a one-off command.
func openApp(ctx context.Context, name string, args []string, stderr io.Writer, environ []string, extra func(*flag.FlagSet)) (*app.App, error) {
	cfg, rest, err := loadConfig(name, args, stderr, environ, extra)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, errUsage
	}
	logger := app.NewLogger(stderr, "warn", cfg.Log.Format)
	slog.SetDefault(logger)
	return app.NewWithConsole(ctx, cfg, logger, stderr)
}

func adminCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 {
		return errUsage
	}
	var (
		email, password string
		roles           stringList
	)
	flags := func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "the account's email address")
		fs.StringVar(&password, "password", "", "the password (default: read a line from standard input)")
		if args[0] == "create" {
			fs.Var(&roles, "role", "a role: admin, support or user (repeatable or comma-separated)")
		}
	}
	switch args[0] {
	case "create", "reset-password":
	default:
		return errUsage
	}
	a, err := openApp(ctx, "admin "+args[0], args[1:], stderr, environ, flags)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	if email == "" {
		return errors.New("--email is required")
	}
	if password == "" {
		if password, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	if args[0] == "create" {
		u, err := a.Auth.CreateUserLocal(ctx, email, password, roles)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s (%s) with roles %s\n", u.Email, u.ID, strings.Join(u.Roles, ","))
		return nil
	}
	if err := a.Auth.ResetPasswordLocal(ctx, email, password); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "password of %s reset; every session of the account has ended\n", email)
	return nil
}

// readPassword reads one line, so that passwords never need to appear in shell history or
// process listings.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	fmt.Fprint(stderr, "Password: ")
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password given (use --password or pipe it on standard input)")
	}
	return line, nil
}

func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer, environ []string) error {
	if len(args) == 0 || args[0] != "rotate" {
		return errUsage
	}
	which, rest := "signing", args[1:]
	if len(rest) > 0 && (rest[0] == "signing" || rest[0] == "master") {
		which, rest = rest[0], rest[1:]
	}
	a, err := openApp(ctx, "keys rotate", rest, stderr, environ, nil)
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	if which == "master" {
		v, err := a.Keyring.Rotate(ctx)
		if err != nil {
			return fmt.Errorf("rotate master key: %w", err)
		}
		fmt.Fprintf(stdout, "new master key version %d; running servers load it within a minute, and the leader re-wraps stored values onto it after jobs.rewrap_grace (progress: GET /api/v1/admin/keys)\n", v)
		return nil
	}
	kid, err := a.Tokens.Rotate(ctx)
	if err != nil {
		return fmt.Errorf("rotate signing key: %w", err)
	}
	fmt.Fprintf(stdout, "new signing key %s; running servers pick it up within a minute, and tokens signed with the old key stay valid until they expire\n", kid)
	return nil
}
