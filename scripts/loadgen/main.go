// Command loadgen is the load generator of scripts/bench-approval.sh:
// it sends a fixed list of HTTP/1.1 requests, each once, over keep-alive
// connections on loopback, and reports the rate and the latencies. A
// fixed list, rather than a duration, because every approval token is
// good for one request: the run ends when the tokens do.
//
//	loadgen tokens -addr HOST:PORT -cookie TOKEN < ids
//	    prints the approval token of each approval id read, one a line
//	    (GET /v1/approvals/{id} as the owner's web session)
//	loadgen run -addr HOST:PORT -c N -n N [-H 'Name: value']... [-vary NAME -values FILE] PATH
//	    sends n GET requests for PATH over c connections, the i-th with
//	    header NAME set to line i of FILE, and prints one line:
//	    requests/s, p50 and p99 in microseconds, and the non-2xx count
//
// Requests are formatted before the clock starts; a connection reads a
// response to its end (Content-Length) before it sends the next.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type headers []string

func (h *headers) String() string     { return strings.Join(*h, ", ") }
func (h *headers) Set(v string) error { *h = append(*h, v); return nil }

func main() {
	if len(os.Args) < 2 {
		log.Fatal("loadgen: want tokens or run")
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:18080", "the server")
	cookie := fs.String("cookie", "", "tokens: the web session's token")
	conns := fs.Int("c", 1, "run: connections")
	n := fs.Int("n", 1000, "run: requests")
	vary := fs.String("vary", "", "run: the header that takes a line of -values per request")
	values := fs.String("values", "", "run: the file of -vary's values, one a line")
	var hs headers
	fs.Var(&hs, "H", "run: a header, 'Name: value' (repeatable)")
	fs.Parse(os.Args[2:])
	var err error
	switch os.Args[1] {
	case "tokens":
		err = tokens(*addr, *cookie)
	case "run":
		err = run(*addr, fs.Arg(0), hs, *vary, *values, *conns, *n)
	default:
		err = errors.New("want tokens or run")
	}
	if err != nil {
		log.Fatal("loadgen: ", err)
	}
}

func tokens(addr, cookie string) error {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		req, err := http.NewRequest("GET", "http://"+addr+"/v1/approvals/"+in.Text(), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Cookie", "gatehouse_session="+cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var v struct{ Status, Token string }
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || v.Token == "" {
			return fmt.Errorf("approval %s: %d %s, no token (%v)", in.Text(), resp.StatusCode, v.Status, err)
		}
		fmt.Fprintln(out, v.Token)
	}
	if err := in.Err(); err != nil {
		return err
	}
	return out.Flush()
}

func run(addr, path string, hs headers, vary, values string, conns, n int) error {
	var vals []string
	if vary != "" {
		b, err := os.ReadFile(values)
		if err != nil {
			return err
		}
		vals = strings.Fields(string(b))
		if len(vals) < n {
			return fmt.Errorf("%s has %d values for %d requests", values, len(vals), n)
		}
	}
	reqs := make([][]byte, n)
	for i := range reqs {
		var b bytes.Buffer
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
		for _, h := range hs {
			b.WriteString(h + "\r\n")
		}
		if vary != "" {
			b.WriteString(vary + ": " + vals[i] + "\r\n")
		}
		b.WriteString("\r\n")
		reqs[i] = b.Bytes()
	}
	lat := make([]time.Duration, n)
	var next, non2xx atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			r := bufio.NewReaderSize(c, 16<<10)
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if _, err := c.Write(reqs[i]); err != nil {
					errs <- err
					return
				}
				code, err := readResponse(r)
				if err != nil {
					errs <- err
					return
				}
				lat[i] = time.Since(t0)
				if code < 200 || code > 299 {
					non2xx.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	fmt.Printf("%.0f %.1f %.1f %d\n", float64(n)/elapsed.Seconds(), us(lat[n/2]), us(lat[n*99/100]), non2xx.Load())
	return nil
}

// readResponse reads one response, its body by Content-Length, and
// returns its status code.
func readResponse(r *bufio.Reader) (int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := 0
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		} else if ok && strings.EqualFold(string(k), "Transfer-Encoding") {
			return 0, errors.New("chunked responses are not read")
		}
	}
	if _, err := r.Discard(length); err != nil {
		return 0, err
	}
	return code, nil
}
