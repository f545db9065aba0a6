package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/authz"
	"gatehouse/internal/store"
)

func init() {
	verbs["account"] = verb{summary: "add brokerage accounts", run: subverbs("account", map[string]func(context.Context, *env, []string) error{
		"add":         runAccountAdd,
		"permissions": runAccountPermissions,
	})}
	verbs["member"] = verb{summary: "give users access to accounts", run: subverbs("member", map[string]func(context.Context, *env, []string) error{
		"add":    runMemberAdd,
		"remove": runMemberRemove,
	})}
}

func runAccountAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "account add", "account add --id ID --name NAME --environment live|paper [--parent ID] [--entity CODE]")
	var sf storeFlags
	sf.register(fs)
	id := fs.String("id", "", "account `id` (letters, digits, . _ -)")
	name := fs.String("name", "", "display `name`")
	envName := fs.String("environment", "", "`live` or paper")
	parent := fs.String("parent", "", "parent account `id`, for a managed sub-account")
	entity := fs.String("entity", "", "legal entity `code` holding the account (e.g. US, UK, EU)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if !account.ValidID(*id) {
		return usageError("--id: 1 to 64 letters, digits, '.', '_' or '-'")
	}
	if *name == "" || len(*name) > 128 {
		return usageError("--name: required, at most 128 characters")
	}
	env, err := account.ParseEnvironment(*envName)
	if err != nil {
		return usageError("--environment: %v", err)
	}
	_, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	a := &account.Account{ID: *id, Name: *name, Environment: env, ParentID: *parent, EntityCode: *entity, CreatedAt: time.Now().UTC()}
	if err := createAccount(ctx, st, a, "admin"); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "account %s added (%s)\n", a.ID, a.Environment)
	return nil
}

func createAccount(ctx context.Context, st store.Store, a *account.Account, actor string) error {
	return st.InTx(ctx, func(tx store.Tx) error {
		if a.ParentID != "" {
			p, err := tx.AccountByID(ctx, a.ParentID)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("parent account %q does not exist", a.ParentID)
			}
			if err != nil {
				return err
			}
			if p.Environment != a.Environment {
				return fmt.Errorf("a %s account cannot be a sub-account of a %s one", a.Environment, p.Environment)
			}
		}
		if err := tx.CreateAccount(ctx, a); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("account %q exists already", a.ID)
			}
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: a.CreatedAt, Type: audit.AccountCreated, Actor: actor,
			Detail: map[string]string{"account": a.ID, "environment": string(a.Environment), "parent": a.ParentID, "entity": a.EntityCode}})
	})
}

func runMemberAdd(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "member add", "member add --user U --account ID --role owner|trader|viewer")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "`username`")
	acct := fs.String("account", "", "account `id`")
	roleName := fs.String("role", "", "`role`: owner, trader or viewer")
	if err := parse(fs, args); err != nil {
		return err
	}
	role, err := account.ParseRole(*roleName)
	if err != nil {
		return usageError("--role: %v", err)
	}
	c, st, u, err := openUser(ctx, e, &sf, *username)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := addMember(ctx, newKeys(c, st, nil, nil), u.ID, *acct, role); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is %s of %s\n", u.Username, role, *acct)
	return nil
}

// addMember gives userID role on accountID through keys, which bounds
// the user's keys on the account by the new role.
func addMember(ctx context.Context, keys *authz.Keys, userID, accountID string, role account.Role) error {
	err := keys.SetMember(ctx, authz.Actor{}, userID, accountID, role)
	if errors.Is(err, authz.ErrNoAccount) {
		return fmt.Errorf("no account %q", accountID)
	}
	return err
}

func runMemberRemove(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "member remove", "member remove --user U --account ID")
	var sf storeFlags
	sf.register(fs)
	username := fs.String("user", "", "`username`")
	acct := fs.String("account", "", "account `id`")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, st, err := sf.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	u, err := userByName(ctx, st, *username)
	if err != nil {
		return err
	}
	suspended, err := newKeys(c, st, nil, nil).RemoveMember(ctx, authz.Actor{}, u.ID, *acct)
	if errors.Is(err, authz.ErrNoMember) {
		return fmt.Errorf("%s is not a member of %q", u.Username, *acct)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is no longer a member of %s; %d API keys suspended\n", u.Username, *acct, len(suspended))
	for _, id := range suspended {
		fmt.Fprintf(e.stdout, "suspended key %s\n", id)
	}
	return nil
}
