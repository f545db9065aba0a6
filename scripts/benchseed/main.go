// Command benchseed prepares the data scripts/bench-forward-auth.sh and
// scripts/bench-approval.sh measure with, in their SQLite store:
//
//	benchseed -data DIR -user NAME sessions   prints a web session's token and
//	                                          a DPoP-bound desktop session's
//	                                          token, one a line, and writes the
//	                                          desktop's device key to DIR/bench-device.pem
//	benchseed -data DIR proofs N METHOD URL TOKEN   prints N fresh DPoP proofs,
//	                                          one a line, for the request
//	benchseed -data DIR -user NAME approvals N ACCOUNT   stores N transfer
//	                                          approvals of the user on the
//	                                          account, approved now, as asked
//	                                          by the web session, and prints
//	                                          their ids, one a line
//
// Sessions are made before gatehouse serve starts; approvals while it
// serves the store, since the tokens the script then fetches must be
// signed by the running server. A proof is good for one request
// (forward-auth keeps a replay cache), so the script makes a new batch
// before each run. All of it is bench data, written straight into the
// store without the flows or their audit events. Never point it at a
// real store.
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gatehouse/internal/approval"
	"gatehouse/internal/dpop"
	"gatehouse/internal/session"
	"gatehouse/internal/store"
	"gatehouse/internal/store/sqlite"
	"gatehouse/internal/token"
	"gatehouse/internal/user"
)

func main() {
	data := flag.String("data", "", "the SQLite data directory")
	username := flag.String("user", "", "the user whose sessions to make")
	flag.Parse()
	if *data == "" {
		log.Fatal("benchseed: -data is required")
	}
	keyFile := filepath.Join(*data, "bench-device.pem")
	switch flag.Arg(0) {
	case "sessions":
		if err := sessions(*data, *username, keyFile); err != nil {
			log.Fatal("benchseed: ", err)
		}
	case "proofs":
		n, err := strconv.Atoi(flag.Arg(1))
		if err != nil || flag.NArg() != 5 {
			log.Fatal("benchseed: usage: proofs N METHOD URL TOKEN")
		}
		if err := proofs(keyFile, n, flag.Arg(2), flag.Arg(3), flag.Arg(4)); err != nil {
			log.Fatal("benchseed: ", err)
		}
	case "approvals":
		n, err := strconv.Atoi(flag.Arg(1))
		if err != nil || flag.NArg() != 3 {
			log.Fatal("benchseed: usage: approvals N ACCOUNT")
		}
		if err := approvals(*data, *username, n, flag.Arg(2)); err != nil {
			log.Fatal("benchseed: ", err)
		}
	default:
		log.Fatal("benchseed: want sessions, proofs or approvals")
	}
}

// openUser opens the store in data and finds the user called username.
func openUser(ctx context.Context, data, username string) (*sqlite.DB, *user.User, error) {
	st, err := sqlite.Open(ctx, data)
	if err != nil {
		return nil, nil, err
	}
	u, err := st.UserByUsername(ctx, username)
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("user %s: %w", username, err)
	}
	return st, u, nil
}

func sessions(data, username, keyFile string) error {
	ctx := context.Background()
	st, u, err := openUser(ctx, data, username)
	if err != nil {
		return err
	}
	defer st.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return err
	}
	signer, err := loadSigner(keyFile)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	for _, s := range []struct {
		id   string
		door session.Door
		jkt  string
	}{{"ses_benchweb", session.Web, ""}, {"ses_benchdesk", session.Desktop, signer.JKT()}} {
		tok, err := token.New(nil, 32)
		if err != nil {
			return err
		}
		if err := st.CreateSession(ctx, &session.Session{ID: s.id, UserID: u.ID, Door: s.door, TokenHash: token.Hash(tok), JKT: s.jkt,
			Assurance: session.AAL2, AuthTime: now, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour), Idle: time.Hour}); err != nil {
			return err
		}
		fmt.Println(tok)
	}
	return nil
}

// loadSigner is the signer of the device key in keyFile.
func loadSigner(keyFile string) (*dpop.Signer, error) {
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, err
	}
	key, err := dpop.ParseKey(b)
	if err != nil {
		return nil, err
	}
	return dpop.NewSigner(key)
}

func proofs(keyFile string, n int, method, url, tok string) error {
	signer, err := loadSigner(keyFile)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	now := time.Now()
	for range n {
		p, err := signer.Proof(method, url, tok, now)
		if err != nil {
			return err
		}
		w.WriteString(p)
		w.WriteByte('\n')
	}
	return w.Flush()
}

func approvals(data, username string, n int, accountID string) error {
	ctx := context.Background()
	st, u, err := openUser(ctx, data, username)
	if err != nil {
		return err
	}
	defer st.Close()
	details, err := approval.Canonical([]byte(`{"amount":"5000.00","currency":"USD","destination":{"iban":"DE89370400440532013000"}}`))
	if err != nil {
		return err
	}
	hash := approval.HashCanonical(details)
	w := bufio.NewWriter(os.Stdout)
	now := time.Now().UTC()
	err = st.InTx(ctx, func(tx store.Tx) error {
		for range n {
			id, err := token.New(nil, 16)
			if err != nil {
				return err
			}
			nonce, err := token.Bytes(nil, approval.NonceSize)
			if err != nil {
				return err
			}
			a := &approval.Approval{ID: "apr_" + id, UserID: u.ID, AccountID: accountID, Kind: approval.Transfer, Details: details,
				Hash: hash, Nonce: nonce, RequestedBy: "ses_benchweb", Status: approval.Pending,
				CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)}
			if err := tx.CreateApproval(ctx, a); err != nil {
				return err
			}
			if err := tx.DecideApproval(ctx, a.ID, approval.Approved, "fac_bench", "push", 2, now); err != nil {
				return err
			}
			w.WriteString(a.ID + "\n")
		}
		return nil
	})
	if err != nil {
		return err
	}
	return w.Flush()
}
