package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"gatehouse/internal/audit"
	"gatehouse/internal/config"
	"gatehouse/internal/password"
	"gatehouse/internal/store"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

func init() {
	verbs["user"] = verb{summary: "add users", run: subverbs("user", map[string]func(context.Context, *env, []string) error{
		"add": runUserAdd,
	})}
}

// readPassword reads one line from stdin, without echo when it is a terminal.
func readPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("no password on standard input")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func runUserAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "user add", "user add --username U --email E [--profile professional|occasional|mobile] --password-stdin")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("username", "", "login `name`")
	email := fs.String("email", "", "e-mail `address`")
	profile := fs.String("profile", "occasional", "trader `profile`: professional, occasional or mobile")
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input (never from the command line)")
	if err := parse(fs, args); err != nil {
		return err
	}
	name := user.NormalizeUsername(*username)
	if !user.ValidUsername(name) {
		return usageError("--username: %v", user.ErrInvalidUsername)
	}
	if !user.ValidEmail(*email) {
		return usageError("--email: %v", user.ErrInvalidEmail)
	}
	prof, err := user.ParseProfile(*profile)
	if err != nil {
		return usageError("--profile: %v", err)
	}
	if !*fromStdin {
		return usageError("--password-stdin is required: passwords are never taken as arguments")
	}
	pw, err := readPassword(e)
	if err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := c.Password.Rules.Check(pw, name); err != nil {
		return err
	}
	u, err := createUser(ctx, st, &password.Hasher{Params: c.Password.Argon2id}, name, *email, prof, pw, "admin", time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s added (id %s, profile %s)\n", u.Username, u.ID, u.Profile)
	return nil
}

// createUser stores a new user and its audit event in one transaction.
func createUser(ctx context.Context, st store.Store, h *password.Hasher, name, email string, prof user.Profile, pw, actor string, now time.Time) (*user.User, error) {
	hash, err := h.Hash(pw)
	if err != nil {
		return nil, err
	}
	id, err := token.New(nil, 12)
	if err != nil {
		return nil, err
	}
	now = now.UTC()
	u := &user.User{ID: "usr_" + id, Username: name, Email: email, Profile: prof, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
	err = st.InTx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("user %q exists already", name)
			}
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.UserCreated, UserID: u.ID, Actor: actor,
			Detail: map[string]string{"username": name, "profile": string(prof)}})
	})
	return u, err
}

// userByName finds a user by the name an operator typed.
// openUser opens the store the flags name and looks up the user called
// name on it; the caller closes the store.
func openUser(ctx context.Context, e *env, sf *storeFlags, name string) (*config.Config, store.Store, *user.User, error) {
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return nil, nil, nil, err
	}
	u, err := userByName(ctx, st, name)
	if err != nil {
		st.Close()
		return nil, nil, nil, err
	}
	return c, st, u, nil
}

func userByName(ctx context.Context, st store.Store, name string) (*user.User, error) {
	u, err := st.UserByUsername(ctx, user.NormalizeUsername(name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no user %q", name)
	}
	return u, err
}
