package main

import (
	"context"
	"strings"
	"testing"

	"gatehouse/server/internal/testenv"
)

// SEC-43: `keys rotate master` adds a master key version that a server started afterwards
// uses, and everything stored before stays readable (the server starts and signs tokens).
func TestKeysRotateMaster(t *testing.T) {
	testenv.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		env := dbEnv(t, dialect)
		if code, out, errOut := runCmd(t, ctx, env, "keys", "rotate", "master"); code != 0 || !strings.Contains(out, "new master key version 2") {
			t.Fatalf("keys rotate master: %d %s %s", code, out, errOut)
		}
		if code, out, errOut := runCmd(t, ctx, env, "keys", "rotate", "master"); code != 0 || !strings.Contains(out, "new master key version 3") {
			t.Fatalf("second keys rotate master: %d %s %s", code, out, errOut)
		}
		if code, out, errOut := runCmd(t, ctx, env, "keys", "rotate", "signing"); code != 0 || !strings.Contains(out, "new signing key") {
			t.Fatalf("keys rotate signing (after two master rotations): %d %s %s", code, out, errOut)
		}
		if code, _, errOut := runCmd(t, ctx, env, "keys", "rotate", "everything"); code == 0 {
			t.Fatalf("an unknown key kind was accepted: %s", errOut)
		}
	})
}
