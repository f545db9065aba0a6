// Package notifytest provides an SMTP server for tests that receives the
// messages gatehouse sends.
package notifytest

import (
	"net"
	"net/textproto"
	"strings"
	"testing"
)

// SMTPSink starts an SMTP server on loopback that accepts every message
// and delivers its envelope and data on the returned channel. It stops
// when the test ends.
func SMTPSink(t testing.TB) (addr string, messages <-chan string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	ch := make(chan string, 1024)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c, ch)
		}
	}()
	return l.Addr().String(), ch
}

func serve(c net.Conn, ch chan<- string) {
	defer c.Close()
	tp := textproto.NewConn(c)
	tp.PrintfLine("220 sink ESMTP")
	var msg strings.Builder
	for {
		line, err := tp.ReadLine()
		if err != nil {
			return
		}
		switch strings.ToUpper(strings.Fields(line + " x")[0]) {
		case "EHLO", "HELO":
			tp.PrintfLine("250 sink")
		case "MAIL", "RCPT":
			msg.WriteString(line + "\n")
			tp.PrintfLine("250 ok")
		case "RSET", "NOOP":
			tp.PrintfLine("250 ok")
		case "DATA":
			tp.PrintfLine("354 go on")
			body, _ := tp.ReadDotBytes()
			msg.Write(body)
			tp.PrintfLine("250 queued")
			select {
			case ch <- msg.String():
			default:
			}
			msg.Reset()
		case "QUIT":
			tp.PrintfLine("221 bye")
			return
		default:
			tp.PrintfLine("502 not implemented")
		}
	}
}
