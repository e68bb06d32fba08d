package w

import (
	"context"
	"log/slog"
	"sync"
)

//skald:model
type M struct {
	Base
	secret   string `json:"secret"`
	hidden   string
	Ch       chan int         `json:"ch"`
	Fn       func()           `json:"fn"`
	Any      any              `json:"any"`
	C        complex128       `json:"c"`
	ByID     map[int]string   `json:"byId"`
	Anon     struct{ A int }  `json:"anon"`
	Bytes    []byte           `json:"bytes"`
	Mu       sync.Mutex       `json:"mu"`
	Level    slog.Level       `json:"level"`
	Quoted   int              `json:"quoted,string"`
	Dup      string           `json:"name"`
	Name     string           `json:"name"`
	Deep     []map[string]Sub `json:"deep"`
	Skipped  chan int         `json:"-"`
	Pair     Pair[int]        `json:"pair"`
	Embedded Base             `json:"embedded"`
	Local    []v              `json:"local"`
	Dotted   int              `json:"a.b"`
	Op       int              `json:"$op"`
	//skald:alias name=cam.url
	URL string `json:"url"`
}

type v struct{}

type Base struct {
	ID string `json:"id"`
}

type Sub struct {
	F func() `json:"f"`
}

type Pair[T any] struct {
	A, B T
}

//skald:worker model=M
type W struct{}

//skald:main
func (W) Main(ctx context.Context) error { return nil }
