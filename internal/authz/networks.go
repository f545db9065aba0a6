package authz

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/apikey"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// NetworkMap names the network an address belongs to, for the keys whose
// networks are watched ([apikey.Key.Watched]): the autonomous system the
// operator's map gives it ("AS64500"), else its /24 (IPv4) or /48 (IPv6).
// The zero NetworkMap, and a nil one, use the prefixes alone.
type NetworkMap struct {
	byBits map[int]map[netip.Prefix]string
	bits   []int // the prefix lengths present, longest first
}

// maxNetworkMapLines bounds a map file: a full routing table's origin
// map is about a million prefixes.
const maxNetworkMapLines = 2_000_000

// ParseNetworkMap reads an autonomous-system map: one "PREFIX ASN" per
// line (203.0.113.0/24 64500, or AS64500), with # comments and blank
// lines. The longest prefix that holds an address names its network.
func ParseNetworkMap(r io.Reader) (*NetworkMap, error) {
	m := &NetworkMap{byBits: map[int]map[netip.Prefix]string{}}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		if line > maxNetworkMapLines {
			return nil, fmt.Errorf("network map: more than %d lines", maxNetworkMapLines)
		}
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.Fields(text)
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("network map line %d: want a prefix and an AS number", line)
		}
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return nil, fmt.Errorf("network map line %d: %w", line, err)
		}
		asn, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(f[1]), "AS"), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("network map line %d: AS number %q", line, f[1])
		}
		p = p.Masked()
		if m.byBits[p.Bits()] == nil {
			m.byBits[p.Bits()] = map[netip.Prefix]string{}
			m.bits = append(m.bits, p.Bits())
		}
		m.byBits[p.Bits()][p] = "AS" + strconv.FormatUint(asn, 10)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("network map: %w", err)
	}
	slices.Sort(m.bits)
	slices.Reverse(m.bits)
	return m, nil
}

// network is a client's network: an autonomous system's name, or else a
// prefix. It is comparable and made without allocating, for the cache.
type network struct {
	as     string
	prefix netip.Prefix
}

func (n network) String() string {
	if n.as != "" {
		return n.as
	}
	return n.prefix.String()
}

// Of names the network of a.
func (m *NetworkMap) Of(a netip.Addr) string { return m.of(a).String() }

func (m *NetworkMap) of(a netip.Addr) network {
	a = a.Unmap().WithZone("")
	if m != nil {
		for _, bits := range m.bits {
			if bits > a.BitLen() {
				continue
			}
			p, err := a.Prefix(bits)
			if err != nil {
				continue
			}
			if as, ok := m.byBits[bits][p]; ok {
				return network{as: as}
			}
		}
	}
	return network{prefix: homePrefix(a)}
}

// heldRecheck is how long a held network is believed held before the
// store is asked again: the owner's approval reaches every instance
// within it.
const heldRecheck = time.Second

// maxWatchedNetworks bounds the networks remembered as approved; past it
// the memory starts afresh and reads the store again.
const maxWatchedNetworks = 100_000

// keyNetworks watches the networks of watched keys for forward-auth. An
// approved network is remembered for good (approval is not withdrawn; a
// revoked key fails before this), a held one for [heldRecheck]; only a
// network not seen before writes, once, with its audit event.
type keyNetworks struct {
	store store.Store
	m     *NetworkMap

	mu   sync.Mutex
	seen map[seenKey]time.Time // zero when approved, else when found held
}

type seenKey struct {
	key string
	net network
}

// check reports the network a watched key is held on, if it is, for a
// use from client at now; "" lets the use go on.
func (w *keyNetworks) check(ctx context.Context, k *apikey.Key, client netip.Addr, now time.Time) (string, error) {
	if w == nil || !k.Watched() || !client.IsValid() {
		return "", nil
	}
	net := w.m.of(client)
	id := seenKey{k.ID, net}
	w.mu.Lock()
	at, ok := w.seen[id]
	w.mu.Unlock()
	if ok && at.IsZero() {
		return "", nil
	}
	network := net.String()
	if ok && now.Sub(at) < heldRecheck {
		return network, nil
	}
	n, err := w.store.KeyNetwork(ctx, k.ID, network)
	if errors.Is(err, store.ErrNotFound) {
		n, err = w.add(ctx, k, network, client, now)
	}
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	if len(w.seen) >= maxWatchedNetworks {
		w.seen = map[seenKey]time.Time{}
	}
	if n.Held() {
		w.seen[id] = now
	} else {
		w.seen[id] = time.Time{}
	}
	w.mu.Unlock()
	if n.Held() {
		return network, nil
	}
	return "", nil
}

// add records the first use of k from network, with its audit event
// (apikey.new_network, told to the owner when it holds the key).
func (w *keyNetworks) add(ctx context.Context, k *apikey.Key, network string, client netip.Addr, now time.Time) (*apikey.Network, error) {
	var n *apikey.Network
	err := w.store.InTx(ctx, func(tx store.Tx) error {
		var added bool
		var err error
		if n, added, err = tx.AddKeyNetwork(ctx, k.ID, network, client, now, k.HoldOnNewNetwork); err != nil || !added {
			return err
		}
		return tx.AppendAudit(ctx, &audit.Event{Time: now, Type: audit.KeyNewNetwork, UserID: trailOf(k.CreatedBy), Actor: "system",
			Interface: "api", IP: client.Unmap().String(),
			Detail: map[string]string{"account": k.AccountID, "key": k.ID, "network": network, "held": strconv.FormatBool(n.Held())}})
	})
	if err != nil {
		return nil, fmt.Errorf("authz: record a key's new network: %w", err)
	}
	return n, nil
}
