package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"gatehouse/internal/config"
	"gatehouse/internal/password"
	"gatehouse/internal/policy"
)

// The example must describe exactly the defaults, so that what
// `gatehouse config example` prints is true.
func TestExampleIsDefault(t *testing.T) {
	c, err := config.Parse("example.yaml", config.Example())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(config.Default(), c, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("example differs from Default (-default +example):\n%s", diff)
	}
	c.Factors.SeedKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // the one setting without a default
	if err := c.Validate(); err != nil {
		t.Errorf("Validate(example) = %v", err)
	}
}

func TestLoadLayers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:9000\nsessions:\n  web: {absolute: 1h, idle: 5m}\n  desktop: {absolute: 24h, idle: 1h}\n  mobile: {absolute: 1h, idle: 5m}\n"), 0o600)
	env := map[string]string{"GATEHOUSE_LISTEN": "127.0.0.1:9999", "GATEHOUSE_DEMO": "true"}
	c, err := config.Load(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9999" || !c.Demo || c.Sessions["web"].Idle.Minutes() != 5 {
		t.Errorf("Load = listen %q demo %v web %+v", c.Listen, c.Demo, c.Sessions["web"])
	}
}

func TestUnknownFieldRefused(t *testing.T) {
	_, err := config.Parse("g.yaml", []byte("listn: 1.2.3.4:5\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), "listn") {
		t.Errorf("Parse(misspelt) = %v, want an error naming line 1 and the field", err)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	c := config.Default()
	c.Listen = "nowhere"
	c.PublicOrigin = "ftp://x"
	c.TLS.Cert = "a.pem"
	c.Password.MinLength = 4
	c.TrustedProxies = []string{"10.0.0.0/33"}
	err := c.Validate()
	if err == nil {
		t.Fatal("Validate = nil")
	}
	for _, want := range []string{"listen", "public_origin", "tls", "min_length", "trusted_proxies[0]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %q:\n%v", want, err)
		}
	}
}

// Mail carries one-time approval links: a configuration that would send
// it in clear over the network, or the relay password without TLS, does
// not start.
func TestValidateMailTLS(t *testing.T) {
	for _, tc := range []struct {
		name string
		mail config.Mail
		want string // in the error; "" for none
	}{
		{"DefaultRemote", config.Mail{Addr: "smtp.example.com:587"}, ""},
		{"ImplicitRemote", config.Mail{Addr: "smtp.example.com:465", TLS: "implicit"}, ""},
		{"NoneLoopback", config.Mail{Addr: "127.0.0.1:25", TLS: "none"}, ""},
		{"NoneLocalhost", config.Mail{Addr: "localhost:25", TLS: "none"}, ""},
		{"NoneRemote", config.Mail{Addr: "smtp.example.com:25", TLS: "none"}, "mail.tls none"},
		{"NoneRemoteInsecure", config.Mail{Addr: "smtp.example.com:25", TLS: "none", InsecurePlaintext: true}, ""},
		{"NoneWithPassword", config.Mail{Addr: "127.0.0.1:25", TLS: "none", Username: "gatehouse"}, "mail.username"},
		{"UnknownMode", config.Mail{Addr: "smtp.example.com:587", TLS: "ssl"}, `mail.tls "ssl"`},
		{"NoPort", config.Mail{Addr: "smtp.example.com"}, "mail.smtp_addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.Factors.SeedKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
			c.Mail = tc.mail
			c.Mail.From = "gatehouse@example.com"
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate(%+v) = %v, want nil", tc.mail, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate(%+v) = %v, want an error naming %q", tc.mail, err, tc.want)
			}
		})
	}
}

// docs/operations.md states the derived limit: 64 MiB plus two argon2id
// blocks per hash computed at once.
func TestDerivedMemoryLimitIsWhatTheDocSays(t *testing.T) {
	const MiB = 1 << 20
	for _, tc := range []struct {
		memoryKiB uint32
		procs     int
		want      int64
	}{
		{19 * 1024, 1, 64*MiB + 38*MiB},
		{19 * 1024, 2, 140 * MiB},
		{19 * 1024, 8, 64*MiB + 8*38*MiB},
		{64 * 1024, 4, 64*MiB + 4*128*MiB},
		{19 * 1024, 0, 64*MiB + 38*MiB}, // never below one hashing slot
	} {
		p := password.Params{Memory: tc.memoryKiB, Iterations: 2, Parallelism: 1}
		if got := config.DerivedMemoryLimit(p, tc.procs); got != tc.want {
			t.Errorf("DerivedMemoryLimit(m=%d KiB, procs=%d) = %d MiB, want %d MiB", tc.memoryKiB, tc.procs, got/MiB, tc.want/MiB)
		}
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "64 MiB + GOMAXPROCS × argon2id memory × 2"; !strings.Contains(string(doc), want) {
		t.Errorf("docs/operations.md does not state the formula %q", want)
	}
}

func TestSoftMemoryLimitPrecedence(t *testing.T) {
	derived := config.DerivedMemoryLimit(password.DefaultParams(), 2)
	for _, tc := range []struct {
		name, setting, env string
		want               int64
		from               string
	}{
		{"Derived", "", "", derived, config.MemoryFromDerived},
		{"Setting", "512MiB", "", 512 << 20, config.MemoryFromSetting},
		{"Off", "off", "", 0, config.MemoryOff},
		{"ExplicitGOMEMLIMITWins", "512MiB", "300MiB", 0, config.MemoryFromEnv},
		{"GOMEMLIMITOverDerived", "", "off", 0, config.MemoryFromEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Default()
			c.MemoryLimit = tc.setting
			got, from := c.SoftMemoryLimit(func(k string) string {
				if k == "GOMEMLIMIT" {
					return tc.env
				}
				return ""
			}, 2)
			if got != tc.want || from != tc.from {
				t.Errorf("SoftMemoryLimit = %d, %q; want %d, %q", got, from, tc.want, tc.from)
			}
		})
	}
}

func TestParseMemorySize(t *testing.T) {
	for s, want := range map[string]int64{"512MiB": 512 << 20, "1GiB": 1 << 30, "4096KiB": 4 << 20, "1000000B": 1e6, "1000000": 1e6, "1TiB": 1 << 40} {
		if got, err := config.ParseMemorySize(s); err != nil || got != want {
			t.Errorf("ParseMemorySize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "512M", "512mb", "-1MiB", "0", "1.5GiB", "MiB", "99999999999TiB"} {
		if got, err := config.ParseMemorySize(s); err == nil {
			t.Errorf("ParseMemorySize(%q) = %d, want an error", s, got)
		}
	}
	c := config.Default()
	c.Factors.SeedKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	c.MemoryLimit = "16MiB"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "memory_limit") {
		t.Errorf("Validate(memory_limit 16MiB) = %v, want an error naming memory_limit", err)
	}
}

// TestExampleNamesEverySetting: every setting of the configuration,
// nested ones and those of list entries (a webhook's url, secret and
// events) included, is named in what `gatehouse config example` prints,
// set or in a comment: equal defaults alone would not catch a setting the
// example leaves out.
func TestExampleNamesEverySetting(t *testing.T) {
	example := string(config.Example())
	seen := map[reflect.Type]bool{}
	var walk func(path string, typ reflect.Type)
	walk = func(path string, typ reflect.Type) {
		for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice || typ.Kind() == reflect.Map {
			typ = typ.Elem()
		}
		if typ.Kind() != reflect.Struct || typ.PkgPath() == "time" || seen[typ] {
			return
		}
		seen[typ] = true
		for i := range typ.NumField() {
			f := typ.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if strings.Contains(opts, "inline") {
				walk(path, f.Type)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			key := regexp.MustCompile(`(?m)(^[\s#-]*|[{,] *)` + regexp.QuoteMeta(name) + `:`)
			if !key.MatchString(example) {
				t.Errorf("config example does not name %s%s", path, name)
			}
			walk(path+name+".", f.Type)
		}
	}
	walk("", reflect.TypeFor[config.Config]())
}

// TestRulesEqualSeesApproval: the comparison TestExampleIsDefault relies
// on tells rules apart by every field a user writes, the approval ones
// too; only the line a rule came from does not count.
func TestRulesEqualSeesApproval(t *testing.T) {
	over := func(v float64) *float64 { return &v }
	base := config.Rules(policy.ReferenceSpecs())
	for name, change := range map[string]func(r *policy.RuleSpec){
		"approval":      func(r *policy.RuleSpec) { r.Approval = "" },
		"approval_kind": func(r *policy.RuleSpec) { r.ApprovalKind = "bank_account_change" },
		"approval_over": func(r *policy.RuleSpec) { r.ApprovalOver = over(10000) },
	} {
		changed := slices.Clone(base)
		i := slices.IndexFunc(changed, func(r policy.RuleSpec) bool { return r.Approval != "" })
		changed[i].ApprovalOver = over(5000)
		same := slices.Clone(changed)
		same[i].Line += 7
		if !changed.Equal(same) {
			t.Fatalf("rules that differ only in their line are not Equal")
		}
		change(&changed[i])
		if changed.Equal(same) {
			t.Errorf("rules that differ in %s are Equal", name)
		}
	}
}
