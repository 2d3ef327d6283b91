package main

import (
	"reflect"
	"testing"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want hostFlags
	}{
		{
			name: "engine style",
			args: []string{"--logtostderr", "-v=9", "--tracing", "file:/tmp/t.json", "127.0.0.1:1234"},
			want: hostFlags{
				engineAddress: "127.0.0.1:1234", tracing: "file:/tmp/t.json", verbose: 9, logToStderr: true,
			},
		},
		{
			name: "root, executor and unknown flags",
			args: []string{"-root=/proj", "-use-executor", "/x/exec", "-new-flag", "-other=1", "-binary", "b", "addr"},
			want: hostFlags{
				engineAddress: "addr", root: "/proj", executor: "/x/exec",
				ignored: []string{"-new-flag", "-other=1", "-binary b"},
			},
		},
		{
			name: "no engine address",
			args: []string{"-tracing="},
			want: hostFlags{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := parseFlags(c.args)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("parseFlags(%q) = %+v, want %+v", c.args, got, c.want)
			}
		})
	}
}

func TestVirtualenvPath(t *testing.T) {
	if got := (project{root: "/p", virtualenv: "venv"}).virtualenvPath(); got != "/p/venv" {
		t.Fatalf("relative virtualenv resolved to %q", got)
	}
	if got := (project{root: "/p", virtualenv: "/abs/venv/"}).virtualenvPath(); got != "/abs/venv" {
		t.Fatalf("absolute virtualenv resolved to %q", got)
	}
	if got := (project{root: "/p"}).virtualenvPath(); got != "" {
		t.Fatalf("missing virtualenv resolved to %q", got)
	}
}
