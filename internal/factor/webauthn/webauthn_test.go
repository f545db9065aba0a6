package webauthn_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/go-cmp/cmp"

	"gatehouse/internal/factor/webauthn"
	"gatehouse/internal/factor/webauthn/webauthntest"
)

const (
	rpID   = "example.com"
	origin = "https://login.example.com"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a relying party with a clock the test moves.
type fixture struct {
	rp  *webauthn.RP
	now time.Time
}

func newFixture(t testing.TB, mods ...func(*webauthn.Config)) *fixture {
	t.Helper()
	c := webauthn.Config{RPID: rpID, RPName: "Gatehouse", Origins: []string{origin}}
	for _, m := range mods {
		m(&c)
	}
	rp, err := webauthn.New(c)
	if err != nil {
		t.Fatalf("New(%+v) = %v", c, err)
	}
	f := &fixture{rp: rp, now: t0}
	rp.Now = func() time.Time { return f.now }
	return f
}

func uvRequired(c *webauthn.Config) { c.UserVerification = webauthn.VerificationRequired }

func newUser(t testing.TB, name string) webauthn.User {
	t.Helper()
	h, err := webauthn.NewHandle(nil)
	if err != nil {
		t.Fatal(err)
	}
	return webauthn.User{Handle: h, Name: name, DisplayName: strings.ToUpper(name)}
}

func newAuthenticator() *webauthntest.Authenticator { return webauthntest.New(origin, rpID) }

// beginRegister runs the registration ceremony up to the authenticator's
// response.
func (f *fixture) beginRegister(t testing.TB, u webauthn.User, a *webauthntest.Authenticator, opts ...webauthn.RegistrationOption) (session, response []byte) {
	t.Helper()
	options, session, err := f.rp.BeginRegistration(u, opts...)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	response, err = a.Create(options)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return session, response
}

// register registers a for u and returns u with the new credential.
func (f *fixture) register(t testing.TB, u webauthn.User, a *webauthntest.Authenticator) webauthn.User {
	t.Helper()
	session, response := f.beginRegister(t, u, a)
	c, err := f.rp.FinishRegistration(u, session, response)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	u.Credentials = append(u.Credentials, c)
	return u
}

// beginLogin runs the login ceremony up to the authenticator's response.
func (f *fixture) beginLogin(t testing.TB, u webauthn.User, a *webauthntest.Authenticator) (session, response []byte) {
	t.Helper()
	options, session, err := f.rp.BeginLogin(u)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	response, err = a.Get(options)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return session, response
}

// login logs u in with a and, on success, stores the updated credential in u
// as the caller would; on ErrCloned it stores the flagged one.
func (f *fixture) login(t testing.TB, u *webauthn.User, a *webauthntest.Authenticator) (webauthn.Credential, error) {
	t.Helper()
	session, response := f.beginLogin(t, *u, a)
	c, err := f.rp.FinishLogin(*u, session, response)
	if err == nil || errors.Is(err, webauthn.ErrCloned) {
		store(u, c)
	}
	return c, err
}

// store replaces the credential with c's ID in u.
func store(u *webauthn.User, c webauthn.Credential) {
	creds := append([]webauthn.Credential(nil), u.Credentials...)
	for i := range creds {
		if bytes.Equal(creds[i].ID, c.ID) {
			creds[i] = c
		}
	}
	u.Credentials = creds
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, webauthn.ErrInvalid) || errors.Is(err, webauthn.ErrCloned) {
		t.Errorf("%s = %v, want ErrInvalid", what, err)
	}
}

func TestRegisterAndLogin(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	a.Transports = []string{"usb", "nfc"}
	a.AAGUID = bytes.Repeat([]byte{7}, 16)

	u = f.register(t, u, a)
	got := u.Credentials[0]
	want := webauthn.Credential{
		ID:              a.ID(),
		PublicKey:       got.PublicKey,
		AAGUID:          bytes.Repeat([]byte{7}, 16),
		Transports:      []string{"usb", "nfc"},
		AttestationType: "none",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registered credential (-want +got):\n%s", diff)
	}
	if len(got.PublicKey) == 0 {
		t.Error("registered credential has no public key")
	}

	for i := uint32(1); i <= 3; i++ {
		c, err := f.login(t, &u, a)
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
		if c.SignCount != i || c.Cloned || len(c.LastChallenge) != 32 || !bytes.Equal(c.PublicKey, got.PublicKey) {
			t.Errorf("login %d: credential %+v, want SignCount %d, a 32-byte LastChallenge, same key, not Cloned", i, c, i)
		}
	}
}

func TestUserVerification(t *testing.T) {
	for _, tt := range []struct {
		name     string
		policy   string
		verifies bool
		wantUV   bool
		wantErr  bool
	}{
		{"RequiredAndVerified", webauthn.VerificationRequired, true, true, false},
		{"RequiredNotVerified", webauthn.VerificationRequired, false, false, true},
		{"PreferredNotVerified", webauthn.VerificationPreferred, false, false, false},
		{"PreferredVerified", webauthn.VerificationPreferred, true, true, false},
		{"DiscouragedNotVerified", webauthn.VerificationDiscouraged, false, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *webauthn.Config) { c.UserVerification = tt.policy })
			u := newUser(t, "alice")
			a := newAuthenticator()
			a.UserVerification = tt.verifies

			options, session, err := f.rp.BeginRegistration(u)
			if err != nil {
				t.Fatal(err)
			}
			var o struct {
				PublicKey struct {
					AuthenticatorSelection struct{ UserVerification string }
				}
			}
			if err := json.Unmarshal(options, &o); err != nil {
				t.Fatal(err)
			}
			if got := o.PublicKey.AuthenticatorSelection.UserVerification; got != tt.policy {
				t.Errorf("options userVerification = %q, want %q", got, tt.policy)
			}
			response, err := a.Create(options)
			if err != nil {
				t.Fatal(err)
			}
			c, err := f.rp.FinishRegistration(u, session, response)
			if tt.wantErr {
				wantInvalid(t, "FinishRegistration", err)
				return
			}
			if err != nil {
				t.Fatalf("FinishRegistration: %v", err)
			}
			if c.UserVerified != tt.wantUV {
				t.Errorf("registered UserVerified = %v, want %v", c.UserVerified, tt.wantUV)
			}
			u.Credentials = []webauthn.Credential{c}
			c, err = f.login(t, &u, a)
			if err != nil {
				t.Fatalf("login: %v", err)
			}
			if c.UserVerified != tt.wantUV {
				t.Errorf("login UserVerified = %v, want %v", c.UserVerified, tt.wantUV)
			}
		})
	}
}

// TestLoginWithoutUVWhereRequired registers with user verification, then
// logs in with an authenticator that skips it.
func TestLoginWithoutUVWhereRequired(t *testing.T) {
	f := newFixture(t, uvRequired)
	u := newUser(t, "alice")
	a := newAuthenticator()
	a.UserVerification = true
	u = f.register(t, u, a)
	a.UserVerification = false
	_, err := f.login(t, &u, a)
	wantInvalid(t, "FinishLogin without UV", err)
}

func TestAssurance(t *testing.T) {
	for _, tt := range []struct {
		name                        string
		backupEligible, backupState bool
		wantDeviceBound             bool
		wantAAL                     int
	}{
		{"SecurityKey", false, false, true, 3},
		{"SyncedPasskeyNotBackedUp", true, false, false, 2},
		{"SyncedPasskey", true, true, false, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := newUser(t, "alice")
			a := newAuthenticator()
			a.BackupEligible, a.BackupState = tt.backupEligible, tt.backupState
			u = f.register(t, u, a)
			c := u.Credentials[0]
			if c.BackupEligible != tt.backupEligible || c.BackupState != tt.backupState {
				t.Errorf("flags BE=%v BS=%v, want %v %v", c.BackupEligible, c.BackupState, tt.backupEligible, tt.backupState)
			}
			if got := c.DeviceBound(); got != tt.wantDeviceBound {
				t.Errorf("DeviceBound() = %v, want %v", got, tt.wantDeviceBound)
			}
			if got := c.Assurance(); got != tt.wantAAL {
				t.Errorf("Assurance() = %d, want %d", got, tt.wantAAL)
			}
			c, err := f.login(t, &u, a)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Assurance(); got != tt.wantAAL {
				t.Errorf("after login Assurance() = %d, want %d", got, tt.wantAAL)
			}
		})
	}
	if got := (webauthn.Credential{Cloned: true}).Assurance(); got != 0 {
		t.Errorf("Assurance() of a cloned credential = %d, want 0", got)
	}
}

func TestBackupStateFollowsLogin(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	a.BackupEligible = true
	u = f.register(t, u, a)
	a.BackupState = true
	c, err := f.login(t, &u, a)
	if err != nil {
		t.Fatal(err)
	}
	if !c.BackupState {
		t.Error("BackupState after a backed-up login = false, want true")
	}
}

func TestCloned(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	u = f.register(t, u, a)
	clone := a.Clone()
	for range 2 {
		if _, err := f.login(t, &u, a); err != nil {
			t.Fatal(err)
		}
	}
	// The clone's counter (1) is behind the stored one (2).
	c, err := f.login(t, &u, clone)
	if !errors.Is(err, webauthn.ErrCloned) {
		t.Fatalf("login with the clone = %v, want ErrCloned", err)
	}
	if !c.Cloned || c.SignCount != 2 || !bytes.Equal(c.ID, a.ID()) {
		t.Errorf("flagged credential %+v, want Cloned, SignCount 2, the same ID", c)
	}
	// The genuine authenticator is refused too once the credential is flagged.
	session, response := f.beginLoginAllowing(t, u, a)
	if _, err := f.rp.FinishLogin(u, session, response); !errors.Is(err, webauthn.ErrCloned) {
		t.Errorf("login after flagging = %v, want ErrCloned", err)
	}
	if _, _, err := f.rp.BeginLogin(u); !errors.Is(err, webauthn.ErrNoCredentials) {
		t.Errorf("BeginLogin with only a flagged credential = %v, want ErrNoCredentials", err)
	}
}

// beginLoginAllowing begins a login while every credential of u is flagged,
// by beginning it with the flags cleared: the session does not depend on them.
func (f *fixture) beginLoginAllowing(t *testing.T, u webauthn.User, a *webauthntest.Authenticator) (session, response []byte) {
	t.Helper()
	clean := u
	clean.Credentials = nil
	for _, c := range u.Credentials {
		c.Cloned = false
		clean.Credentials = append(clean.Credentials, c)
	}
	return f.beginLogin(t, clean, a)
}

func TestCounter(t *testing.T) {
	for _, tt := range []struct {
		name    string
		set     uint32 // counter set before the third login, which reports set+1
		wantErr error
	}{
		{"Ahead", 10, nil},
		{"Next", 2, nil},
		{"Equal", 1, webauthn.ErrCloned},
		{"Behind", 0, webauthn.ErrCloned},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			u := newUser(t, "alice")
			a := newAuthenticator()
			u = f.register(t, u, a)
			for range 2 {
				if _, err := f.login(t, &u, a); err != nil {
					t.Fatal(err)
				}
			}
			a.SetCounter(tt.set)
			c, err := f.login(t, &u, a)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("login reporting counter %d after 2 = %v, want %v", tt.set+1, err, tt.wantErr)
			}
			if tt.wantErr == nil && c.SignCount != tt.set+1 {
				t.Errorf("SignCount = %d, want %d", c.SignCount, tt.set+1)
			}
		})
	}
}

// TestCounterToZero refuses a counter that drops to 0 after counting: a
// clone could otherwise dodge the check by reporting no counter.
func TestCounterToZero(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	u = f.register(t, u, a)
	if _, err := f.login(t, &u, a); err != nil {
		t.Fatal(err)
	}
	a.ZeroCounter = true
	if _, err := f.login(t, &u, a); !errors.Is(err, webauthn.ErrCloned) {
		t.Errorf("counter 0 after 1 = %v, want ErrCloned", err)
	}
}

func TestZeroCounter(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	a.ZeroCounter = true
	a.BackupEligible, a.BackupState = true, true
	u = f.register(t, u, a)
	for i := range 3 {
		c, err := f.login(t, &u, a)
		if err != nil {
			t.Fatalf("login %d with a counterless authenticator: %v", i, err)
		}
		if c.SignCount != 0 {
			t.Errorf("SignCount = %d, want 0", c.SignCount)
		}
	}
}

func TestReplayedAssertion(t *testing.T) {
	f := newFixture(t)
	for _, zero := range []bool{false, true} {
		u := newUser(t, "alice")
		a := newAuthenticator()
		a.ZeroCounter = zero
		u = f.register(t, u, a)
		session, response := f.beginLogin(t, u, a)
		c, err := f.rp.FinishLogin(u, session, response)
		if err != nil {
			t.Fatal(err)
		}
		store(&u, c)
		_, err = f.rp.FinishLogin(u, session, response)
		wantInvalid(t, "FinishLogin replayed", err)
	}
}

func TestExpiry(t *testing.T) {
	for _, tt := range []struct {
		name    string
		timeout time.Duration
		wait    time.Duration
		ok      bool
	}{
		{"DefaultJustInTime", 0, webauthn.DefaultTimeout - time.Second, true},
		{"DefaultExpired", 0, webauthn.DefaultTimeout, false},
		{"ShortExpired", 30 * time.Second, 31 * time.Second, false},
		{"ClockBack", 0, -time.Hour, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, func(c *webauthn.Config) { c.Timeout = tt.timeout })
			u := newUser(t, "alice")
			a := newAuthenticator()

			session, response := f.beginRegister(t, u, a)
			f.now = f.now.Add(tt.wait)
			c, err := f.rp.FinishRegistration(u, session, response)
			if !tt.ok {
				wantInvalid(t, "FinishRegistration after "+tt.wait.String(), err)
				u = f.register(t, u, a)
			} else if err != nil {
				t.Fatalf("FinishRegistration after %v: %v", tt.wait, err)
			} else {
				u.Credentials = []webauthn.Credential{c}
			}

			session, response = f.beginLogin(t, u, a)
			f.now = f.now.Add(tt.wait)
			_, err = f.rp.FinishLogin(u, session, response)
			if !tt.ok {
				wantInvalid(t, "FinishLogin after "+tt.wait.String(), err)
			} else if err != nil {
				t.Errorf("FinishLogin after %v: %v", tt.wait, err)
			}
		})
	}
}

func TestTimeoutInOptions(t *testing.T) {
	f := newFixture(t, func(c *webauthn.Config) { c.Timeout = 90 * time.Second })
	u := newUser(t, "alice")
	options, _, err := f.rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ PublicKey struct{ Timeout int } }
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if o.PublicKey.Timeout != 90000 {
		t.Errorf("timeout = %d, want 90000", o.PublicKey.Timeout)
	}
}

func TestLoginInvalid(t *testing.T) {
	f := newFixture(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	ka, kb := newAuthenticator(), newAuthenticator()
	alice, bob = f.register(t, alice, ka), f.register(t, bob, kb)
	session, response := f.beginLogin(t, alice, ka)

	other := newFixture(t, func(c *webauthn.Config) { c.RPID = "example.org"; c.Origins = []string{"https://example.org"} })

	for _, tt := range []struct {
		name string
		run  func(t *testing.T) error
	}{
		{"WrongOrigin", func(t *testing.T) error {
			a := ka.Clone()
			a.SetCounter(100)
			a.Origin = "https://login.example.com.evil.test"
			s, r := f.beginLogin(t, alice, a)
			_, err := f.rp.FinishLogin(alice, s, r)
			return err
		}},
		{"OriginOfSubdomainNotConfigured", func(t *testing.T) error {
			a := ka.Clone()
			a.SetCounter(100)
			a.Origin = "https://other.example.com"
			s, r := f.beginLogin(t, alice, a)
			_, err := f.rp.FinishLogin(alice, s, r)
			return err
		}},
		{"WrongRPID", func(t *testing.T) error {
			a := ka.Clone()
			a.SetCounter(100)
			a.RPID = "evil.test"
			s, r := f.beginLogin(t, alice, a)
			_, err := f.rp.FinishLogin(alice, s, r)
			return err
		}},
		{"SessionOfAnotherUser", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(bob, session, response)
			return err
		}},
		{"SessionOfAnotherUserWithTheirCredential", func(t *testing.T) error {
			// Bob's authenticator answers a login begun for alice.
			options, s := stripAllow(t, f, alice)
			_, err := f.rp.FinishLogin(bob, s, mustGet(t, kb, options))
			return err
		}},
		{"CredentialOfAnotherUser", func(t *testing.T) error {
			options, s := stripAllow(t, f, alice)
			_, err := f.rp.FinishLogin(alice, s, mustGet(t, kb, options))
			return err
		}},
		{"UnregisteredCredential", func(t *testing.T) error {
			options, s := stripAllow(t, f, alice)
			_, err := f.rp.FinishLogin(alice, s, mustGet(t, newAuthenticator(), options))
			return err
		}},
		{"RegistrationSession", func(t *testing.T) error {
			s, _ := f.beginRegister(t, alice, newAuthenticator())
			_, err := f.rp.FinishLogin(alice, s, response)
			return err
		}},
		{"SessionOfAnotherRP", func(t *testing.T) error {
			_, s, err := other.rp.BeginLogin(alice)
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.rp.FinishLogin(alice, s, response)
			return err
		}},
		{"OtherSessionOfTheUser", func(t *testing.T) error {
			s, _ := f.beginLogin(t, alice, ka.Clone())
			_, err := f.rp.FinishLogin(alice, s, response)
			return err
		}},
		{"BadSignature", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, session, tamper(t, response, func(m map[string]any) {
				r := m["response"].(map[string]any)
				sig := mustB64(t, r["signature"])
				sig[len(sig)-1] ^= 1
				r["signature"] = b64(sig)
			}))
			return err
		}},
		{"ChangedAuthenticatorData", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, session, tamper(t, response, func(m map[string]any) {
				r := m["response"].(map[string]any)
				ad := mustB64(t, r["authenticatorData"])
				ad[len(ad)-1]++ // counter
				r["authenticatorData"] = b64(ad)
			}))
			return err
		}},
		{"UserHandleOfAnotherUser", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, session, tamper(t, response, func(m map[string]any) {
				m["response"].(map[string]any)["userHandle"] = b64(bob.Handle)
			}))
			return err
		}},
		{"BackupEligibilityChanged", func(t *testing.T) error {
			a := ka.Clone()
			a.SetCounter(100)
			a.BackupEligible = true
			s, r := f.beginLogin(t, alice, a)
			_, err := f.rp.FinishLogin(alice, s, r)
			return err
		}},
		{"BackupStateWithoutEligibility", func(t *testing.T) error {
			a := ka.Clone()
			a.SetCounter(100)
			a.BackupState = true
			s, r := f.beginLogin(t, alice, a)
			_, err := f.rp.FinishLogin(alice, s, r)
			return err
		}},
		{"UserWithoutCredentials", func(t *testing.T) error {
			u := alice
			u.Credentials = nil
			_, err := f.rp.FinishLogin(u, session, response)
			return err
		}},
		{"GarbageSession", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, []byte(`{"ceremony":"login"}`), response)
			return err
		}},
		{"SessionWithTrailingData", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, append(bytes.Clone(session), " {}"...), response)
			return err
		}},
		{"NoSession", func(t *testing.T) error {
			_, err := f.rp.FinishLogin(alice, nil, response)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantInvalid(t, tt.name, tt.run(t)) })
	}

	// The untouched response still works: the cases above failed for their
	// own reason.
	if _, err := f.rp.FinishLogin(alice, session, response); err != nil {
		t.Errorf("FinishLogin with the original response: %v", err)
	}
}

func TestGarbageResponses(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	regSession, regResponse := f.beginRegister(t, u, a)
	u = f.register(t, u, a)
	loginSession, loginResponse := f.beginLogin(t, u, a)

	oversized := func(valid []byte) []byte {
		// Valid JSON, padded with whitespace past the cap.
		return append(bytes.Clone(valid), bytes.Repeat([]byte(" "), webauthn.MaxResponseSize)...)
	}
	for _, tt := range []struct {
		name            string
		login, register []byte
	}{
		{"Empty", nil, nil},
		{"Null", []byte("null"), []byte("null")},
		{"EmptyObject", []byte("{}"), []byte("{}")},
		{"NotJSON", []byte("hello"), []byte("hello")},
		{"Truncated", loginResponse[:len(loginResponse)/2], regResponse[:len(regResponse)/2]},
		{"Trailing", append(bytes.Clone(loginResponse), "{}"...), append(bytes.Clone(regResponse), "{}"...)},
		{"Oversized", oversized(loginResponse), oversized(regResponse)},
		{"Swapped", regResponse, loginResponse},
		{"Array", []byte("[1,2,3]"), []byte("[1,2,3]")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.rp.FinishLogin(u, loginSession, tt.login)
			wantInvalid(t, "FinishLogin", err)
			fresh := u
			fresh.Credentials = nil
			_, err = f.rp.FinishRegistration(fresh, regSession, tt.register)
			wantInvalid(t, "FinishRegistration", err)
		})
	}
	// Whitespace alone does not make a response invalid: only its size does.
	if _, err := f.rp.FinishLogin(u, loginSession, append(bytes.Clone(loginResponse), "  \n"...)); err != nil {
		t.Errorf("FinishLogin with trailing whitespace: %v", err)
	}
}

func TestRegistrationInvalid(t *testing.T) {
	f := newFixture(t)
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	for _, tt := range []struct {
		name string
		run  func(t *testing.T) error
	}{
		{"WrongOrigin", func(t *testing.T) error {
			a := newAuthenticator()
			a.Origin = "https://example.org"
			s, r := f.beginRegister(t, alice, a)
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"HTTPOrigin", func(t *testing.T) error {
			a := newAuthenticator()
			a.Origin = "http://login.example.com"
			s, r := f.beginRegister(t, alice, a)
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"WrongRPID", func(t *testing.T) error {
			a := newAuthenticator()
			a.RPID = "login.example.com"
			s, r := f.beginRegister(t, alice, a)
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"SessionOfAnotherUser", func(t *testing.T) error {
			s, r := f.beginRegister(t, alice, newAuthenticator())
			_, err := f.rp.FinishRegistration(bob, s, r)
			return err
		}},
		{"LoginSession", func(t *testing.T) error {
			a := newAuthenticator()
			u := f.register(t, alice, a)
			s, _ := f.beginLogin(t, u, a)
			_, r := f.beginRegister(t, alice, newAuthenticator())
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"BackupStateWithoutEligibility", func(t *testing.T) error {
			a := newAuthenticator()
			a.BackupState = true
			s, r := f.beginRegister(t, alice, a)
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"SyncedWhereDeviceBoundRequired", func(t *testing.T) error {
			a := newAuthenticator()
			a.BackupEligible = true
			s, r := f.beginRegister(t, alice, a, webauthn.DeviceBoundOnly())
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
		{"IDMismatch", func(t *testing.T) error {
			s, r := f.beginRegister(t, alice, newAuthenticator())
			other := newAuthenticator().ID()
			_, err := f.rp.FinishRegistration(alice, s, tamper(t, r, func(m map[string]any) {
				m["id"], m["rawId"] = b64(other), b64(other)
			}))
			return err
		}},
		{"KeyNotOnCurve", func(t *testing.T) error {
			// Attestation "none" signs nothing, so a client can send any key.
			s, r := f.beginRegister(t, alice, newAuthenticator())
			_, err := f.rp.FinishRegistration(alice, s, tamper(t, r, func(m map[string]any) {
				resp := m["response"].(map[string]any)
				var obj map[string]any
				if err := webauthncbor.Unmarshal(mustB64(t, resp["attestationObject"]), &obj); err != nil {
					t.Fatal(err)
				}
				ad := obj["authData"].([]byte)
				ad[len(ad)-1] ^= 1 // the last byte of the key's y coordinate
				enc, err := webauthncbor.Marshal(obj)
				if err != nil {
					t.Fatal(err)
				}
				resp["attestationObject"] = b64(enc)
			}))
			return err
		}},
		{"ChallengeOfAnotherSession", func(t *testing.T) error {
			_, r := f.beginRegister(t, alice, newAuthenticator())
			s, _ := f.beginRegister(t, alice, newAuthenticator())
			_, err := f.rp.FinishRegistration(alice, s, r)
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) { wantInvalid(t, tt.name, tt.run(t)) })
	}

	// Under DeviceBoundOnly a security key still registers.
	s, r := f.beginRegister(t, alice, newAuthenticator(), webauthn.DeviceBoundOnly())
	if _, err := f.rp.FinishRegistration(alice, s, r); err != nil {
		t.Errorf("security key under DeviceBoundOnly: %v", err)
	}
}

func TestExcludedCredential(t *testing.T) {
	f := newFixture(t)
	u := newUser(t, "alice")
	a := newAuthenticator()
	u = f.register(t, u, a)

	options, session, err := f.rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			ExcludeCredentials []struct{ Type, ID string }
		}
	}
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	want := []struct{ Type, ID string }{{"public-key", b64(a.ID())}}
	if diff := cmp.Diff(want, o.PublicKey.ExcludeCredentials); diff != "" {
		t.Errorf("excludeCredentials (-want +got):\n%s", diff)
	}
	if _, err := a.Create(options); !errors.Is(err, webauthntest.ErrExcluded) {
		t.Errorf("Create with the credential excluded = %v, want ErrExcluded", err)
	}

	// A client that ignores the exclusion still cannot register the
	// credential twice.
	var m map[string]any
	if err := json.Unmarshal(options, &m); err != nil {
		t.Fatal(err)
	}
	delete(m["publicKey"].(map[string]any), "excludeCredentials")
	stripped, _ := json.Marshal(m)
	response, err := a.Create(stripped)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.rp.FinishRegistration(u, session, response)
	wantInvalid(t, "FinishRegistration of a registered credential", err)

	// Another authenticator registers beside the first.
	b := newAuthenticator()
	response, err = b.Create(options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.rp.FinishRegistration(u, session, response); err != nil {
		t.Errorf("second authenticator: %v", err)
	}
}

func TestOptions(t *testing.T) {
	f := newFixture(t)
	f.rp.Rand = bytes.NewReader(bytes.Repeat([]byte{0xAB}, 64))
	u := webauthn.User{Handle: []byte{1, 2, 3}, Name: "alice@example.com", DisplayName: "Alice"}
	a := newAuthenticator()
	a.Transports = []string{"usb", "nfc"}

	options, _, err := f.rp.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	challenge := b64(bytes.Repeat([]byte{0xAB}, 32))
	var got map[string]any
	if err := json.Unmarshal(options, &got); err != nil {
		t.Fatal(err)
	}
	pk := got["publicKey"].(map[string]any)
	delete(pk, "pubKeyCredParams") // the library's list; ES256 checked below
	want := map[string]any{"publicKey": map[string]any{
		"rp":        map[string]any{"id": rpID, "name": "Gatehouse"},
		"user":      map[string]any{"id": "AQID", "name": "alice@example.com", "displayName": "Alice"},
		"challenge": challenge,
		"timeout":   300000.0,
		"authenticatorSelection": map[string]any{
			"requireResidentKey": false,
			"residentKey":        "preferred",
			"userVerification":   "preferred",
		},
		"attestation": "none",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("registration options (-want +got):\n%s", diff)
	}
	var params struct {
		PublicKey struct{ PubKeyCredParams []struct{ Alg int } }
	}
	json.Unmarshal(options, &params)
	if len(params.PublicKey.PubKeyCredParams) == 0 || params.PublicKey.PubKeyCredParams[0].Alg != -7 {
		t.Errorf("pubKeyCredParams = %v, want ES256 (-7) first", params.PublicKey.PubKeyCredParams)
	}

	u = f.register(t, u, a)
	f.rp.Rand = bytes.NewReader(bytes.Repeat([]byte{0xCD}, 32))
	options, _, err = f.rp.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(options, &got); err != nil {
		t.Fatal(err)
	}
	want = map[string]any{"publicKey": map[string]any{
		"challenge": b64(bytes.Repeat([]byte{0xCD}, 32)),
		"timeout":   300000.0,
		"rpId":      rpID,
		"allowCredentials": []any{map[string]any{
			"type": "public-key", "id": b64(a.ID()), "transports": []any{"usb", "nfc"},
		}},
		"userVerification": "preferred",
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("login options (-want +got):\n%s", diff)
	}

	// Randomness that fails fails the ceremony rather than weakening it.
	f.rp.Rand = bytes.NewReader(nil)
	if _, _, err := f.rp.BeginLogin(u); err == nil {
		t.Error("BeginLogin with no randomness succeeded")
	}
}

func TestBadUser(t *testing.T) {
	f := newFixture(t)
	for _, u := range []webauthn.User{
		{Name: "alice"},
		{Handle: make([]byte, 65), Name: "alice"},
		{Handle: []byte{1}},
	} {
		if _, _, err := f.rp.BeginRegistration(u); !errors.Is(err, webauthn.ErrUser) {
			t.Errorf("BeginRegistration(%+v) = %v, want ErrUser", u, err)
		}
	}
	if _, _, err := f.rp.BeginLogin(webauthn.User{Name: "alice"}); !errors.Is(err, webauthn.ErrUser) {
		t.Errorf("BeginLogin without handle = %v, want ErrUser", err)
	}
	if _, _, err := f.rp.BeginLogin(newUser(t, "alice")); !errors.Is(err, webauthn.ErrNoCredentials) {
		t.Errorf("BeginLogin without credentials = %v, want ErrNoCredentials", err)
	}
}

func TestNew(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   webauthn.Config
		want webauthn.Config
	}{
		{"Defaults",
			webauthn.Config{RPID: "example.com", Origins: []string{"https://example.com"}},
			webauthn.Config{RPID: "example.com", RPName: "example.com", Origins: []string{"https://example.com"}, UserVerification: "preferred", Timeout: 5 * time.Minute}},
		{"Canonical",
			webauthn.Config{RPID: "example.com", RPName: "Gatehouse", Origins: []string{"HTTPS://Login.Example.com:443/", "https://example.com:8443"}, UserVerification: "required", Timeout: time.Minute},
			webauthn.Config{RPID: "example.com", RPName: "Gatehouse", Origins: []string{"https://login.example.com", "https://example.com:8443"}, UserVerification: "required", Timeout: time.Minute}},
		{"Localhost",
			webauthn.Config{RPID: "localhost", Origins: []string{"http://localhost:8080"}, UserVerification: "discouraged"},
			webauthn.Config{RPID: "localhost", RPName: "localhost", Origins: []string{"http://localhost:8080"}, UserVerification: "discouraged", Timeout: 5 * time.Minute}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rp, err := webauthn.New(tt.in)
			if err != nil {
				t.Fatalf("New(%+v) = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, rp.Config()); diff != "" {
				t.Errorf("Config() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	ok := webauthn.Config{RPID: "example.com", Origins: []string{"https://example.com"}}
	for _, tt := range []struct {
		name     string
		mod      func(*webauthn.Config)
		problems int
	}{
		{"NoRPID", func(c *webauthn.Config) { c.RPID = ""; c.Origins = nil }, 2},
		{"UpperCaseRPID", func(c *webauthn.Config) { c.RPID = "Example.com" }, 2},
		{"RPIDWithScheme", func(c *webauthn.Config) { c.RPID = "https://example.com" }, 2},
		{"RPIDWithPort", func(c *webauthn.Config) { c.RPID = "example.com:443" }, 2},
		{"RPIDIsIP", func(c *webauthn.Config) { c.RPID = "192.0.2.1"; c.Origins = []string{"https://192.0.2.1"} }, 1},
		{"TrailingDot", func(c *webauthn.Config) { c.RPID = "example.com." }, 2},
		{"NoOrigins", func(c *webauthn.Config) { c.Origins = nil }, 1},
		{"RelativeOrigin", func(c *webauthn.Config) { c.Origins = []string{"example.com"} }, 1},
		{"HTTPOrigin", func(c *webauthn.Config) { c.Origins = []string{"http://example.com"} }, 1},
		{"OriginWithPath", func(c *webauthn.Config) { c.Origins = []string{"https://example.com/login"} }, 1},
		{"OriginWithQuery", func(c *webauthn.Config) { c.Origins = []string{"https://example.com?x"} }, 1},
		{"OriginWithUser", func(c *webauthn.Config) { c.Origins = []string{"https://u@example.com"} }, 1},
		{"OriginOutsideRPID", func(c *webauthn.Config) { c.Origins = []string{"https://example.com.evil.test"} }, 1},
		{"OriginSuffixNotSubdomain", func(c *webauthn.Config) { c.Origins = []string{"https://notexample.com"} }, 1},
		{"TwoBadOrigins", func(c *webauthn.Config) { c.Origins = []string{"ftp://example.com", "https://evil.test"} }, 2},
		{"BadUserVerification", func(c *webauthn.Config) { c.UserVerification = "always" }, 1},
		{"NegativeTimeout", func(c *webauthn.Config) { c.Timeout = -time.Second }, 1},
		{"TinyTimeout", func(c *webauthn.Config) { c.Timeout = time.Millisecond }, 1},
		{"HugeTimeout", func(c *webauthn.Config) { c.Timeout = time.Hour }, 1},
		{"Everything", func(c *webauthn.Config) {
			*c = webauthn.Config{RPID: "A", Origins: []string{"x"}, UserVerification: "x", Timeout: -1}
		}, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			c.Origins = append([]string(nil), ok.Origins...)
			tt.mod(&c)
			rp, err := webauthn.New(c)
			if !errors.Is(err, webauthn.ErrConfig) {
				t.Fatalf("New(%+v) = %v, %v; want ErrConfig", c, rp, err)
			}
			if got := strings.Count(err.Error(), "webauthn: invalid configuration"); got != tt.problems {
				t.Errorf("New(%+v) reported %d problems, want %d:\n%v", c, got, tt.problems, err)
			}
		})
	}
}

func TestNewHandle(t *testing.T) {
	h1, err := webauthn.NewHandle(nil)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := webauthn.NewHandle(nil)
	if len(h1) != webauthn.HandleSize || bytes.Equal(h1, h2) {
		t.Errorf("NewHandle() = %x, %x; want two different %d-byte handles", h1, h2, webauthn.HandleSize)
	}
	fixed, _ := webauthn.NewHandle(bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if !bytes.Equal(fixed, bytes.Repeat([]byte{9}, 32)) {
		t.Errorf("NewHandle(fixed reader) = %x, want the reader's bytes", fixed)
	}
}

// stripAllow begins a login for u and returns its options without
// allowCredentials, so that any authenticator answers them, and its session.
func stripAllow(t *testing.T, f *fixture, u webauthn.User) (options, session []byte) {
	t.Helper()
	options, session, err := f.rp.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(options, &m); err != nil {
		t.Fatal(err)
	}
	delete(m["publicKey"].(map[string]any), "allowCredentials")
	b, _ := json.Marshal(m)
	return b, session
}

func mustGet(t *testing.T, a *webauthntest.Authenticator, options []byte) []byte {
	t.Helper()
	r, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tamper decodes a response, lets edit change it and encodes it again.
func tamper(t *testing.T, response []byte, edit func(map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(response, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustB64(t *testing.T, v any) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(v.(string))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
