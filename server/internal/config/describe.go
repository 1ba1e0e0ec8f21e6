package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Field describes one setting, read from the Config struct tags.
type Field struct {
	Env     string // environment variable
	YAML    string // dotted key in the YAML file
	Type    string
	Default string
	Doc     string
	Secret  bool
	value   reflect.Value
}

// Fields lists every setting in declaration order.
func Fields() []Field {
	def := Default()
	return walk(reflect.ValueOf(&def).Elem(), "")
}

func walk(v reflect.Value, prefix string) []Field {
	var out []Field
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		key := strings.Split(sf.Tag.Get("yaml"), ",")[0]
		if prefix != "" {
			key = prefix + "." + key
		}
		fv := v.Field(i)
		if sf.Tag.Get("env") == "" && fv.Kind() == reflect.Struct {
			out = append(out, walk(fv, key)...)
			continue
		}
		out = append(out, Field{
			Env: sf.Tag.Get("env"), YAML: key, Type: typeName(sf.Type), Default: format(fv),
			Doc: sf.Tag.Get("doc"), Secret: sf.Tag.Get("secret") == "true", value: fv,
		})
	}
	return out
}

func typeName(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "duration"
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Slice:
		return "list"
	default:
		return t.Kind().String()
	}
}

func format(v reflect.Value) string {
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return "(per environment)"
		}
		return format(v.Elem())
	case v.Type() == reflect.TypeFor[time.Duration]():
		return time.Duration(v.Int()).String()
	case v.Kind() == reflect.Slice:
		parts := make([]string, v.Len())
		for i := range v.Len() {
			parts[i] = fmt.Sprint(v.Index(i).Interface())
		}
		return strings.Join(parts, ",")
	default:
		return fmt.Sprint(v.Interface())
	}
}

// Markdown renders docs/configuration.md. A test keeps the committed file equal to it.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Configuration

<!-- Generated from server/internal/config (struct tags) by ` + "`gatehouse config docs`" + `. Do not edit by hand. -->

Gatehouse reads built-in defaults, then an optional YAML file (` + "`gatehouse serve --config gatehouse.yaml`" + `),
then ` + "`GATEHOUSE_*`" + ` environment variables; later sources win. Unknown YAML keys are errors. Every problem
is reported at once, and ` + "`GATEHOUSE_ENV=production`" + ` refuses insecure settings (SEC-53): no master key,
cookies without Secure, debug logging, a well-known bootstrap admin password.
` + "`gatehouse config print`" + ` shows the effective configuration with secrets masked.

| Environment variable | YAML key | Type | Default | Description |
| --- | --- | --- | --- | --- |
`)
	for _, f := range Fields() {
		def := f.Default
		if def == "" {
			def = "(empty)"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | %s |\n", f.Env, f.YAML, f.Type, def, strings.ReplaceAll(f.Doc, "|", "\\|"))
	}
	b.WriteString("\nSecrets (marked secret in the code: the database and Redis URLs, the master key, the admin password) are\nnever printed: `config print` masks them and the server never logs them.\n")
	return b.String()
}

// Mask is what `config print` shows in place of a secret that is set.
const Mask = "********"

// Print renders the effective configuration as "env = value" lines, secrets masked.
func (c *Config) Print() string {
	var b strings.Builder
	for _, f := range walk(reflect.ValueOf(c).Elem(), "") {
		val := format(f.value)
		if f.Secret && val != "" {
			val = Mask
		}
		if f.value.Kind() == reflect.Pointer && f.value.IsNil() {
			val = f.effective(c)
		}
		fmt.Fprintf(&b, "%-36s %s\n", f.Env, val)
	}
	return b.String()
}

// effective resolves the per-environment defaults for printing.
func (f Field) effective(c *Config) string {
	switch f.Env {
	case "GATEHOUSE_COOKIE_SECURE":
		return fmt.Sprintf("%t (default for %s)", c.CookieSecure(), c.Env)
	case "GATEHOUSE_AUTO_MIGRATE":
		return fmt.Sprintf("%t (default for %s)", c.AutoMigrate(), c.Env)
	case "GATEHOUSE_REGISTRATION":
		return fmt.Sprintf("%t (default for %s)", c.Registration(), c.Env)
	}
	return ""
}
