//go:build unix

package skaldtest_test

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/skalds-go/skalds/skaldtest"
)

// A test (or a tool) starts a server as a child, waits for the line that
// says it is ready instead of sleeping, reads what it needs from that
// line, and stops it with a grace period.
func ExampleStartProcess() {
	p, err := skaldtest.StartProcess(skaldtest.ProcessOptions{Group: true},
		"/bin/sh", "-c", `trap 'echo bye; exit 0' TERM; echo "listening on 127.0.0.1:7001"; while :; do sleep 0.05; done`)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := p.Await(ctx, 0, regexp.MustCompile(`listening on (\S+)`))
	if err != nil {
		panic(err)
	}
	fmt.Println("address:", l.Match[1])
	if err := p.Stop(10 * time.Second); err != nil {
		panic(err)
	}
	fmt.Println("exited:", p.Err(), "last line:", p.Tail(1))
	// Output:
	// address: 127.0.0.1:7001
	// exited: <nil> last line: bye
}
