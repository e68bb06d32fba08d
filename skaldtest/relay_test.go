package skaldtest

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo starts a TCP server that writes back every line it reads.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip dials addr, sends a line and reports whether it came back.
func roundTrip(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "ping\n"
}

func TestRelay(t *testing.T) {
	r, err := NewRelay(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if !roundTrip(r.Addr()) {
		t.Fatal("no round trip through an open relay")
	}

	// A connection open at the cut is closed by it.
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("x\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	r.Cut()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("reading a connection after the cut: %v, want EOF", err)
	}
	if roundTrip(r.Addr()) {
		t.Error("a round trip through a cut relay")
	}

	r.Restore()
	if !roundTrip(r.Addr()) {
		t.Error("no round trip after Restore")
	}

	r.Close()
	r.Close()
	if roundTrip(r.Addr()) {
		t.Error("a round trip through a closed relay")
	}
}
