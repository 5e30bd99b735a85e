package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func runForTest(t *testing.T, args ...string) (exitCode, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, streams{In: &bytes.Buffer{}, Out: &out, Err: &errOut})
	return code, out.String(), errOut.String()
}

func TestParseFlagsInterspersed(t *testing.T) {
	tests := map[string]struct {
		args    []string
		pos     []string
		format  string
		wantErr bool
	}{
		"flags first":      {args: []string{"--format", "csv", "a", "b"}, pos: []string{"a", "b"}, format: "csv"},
		"flags last":       {args: []string{"a", "b", "--format=csv"}, pos: []string{"a", "b"}, format: "csv"},
		"flags between":    {args: []string{"a", "-format", "csv", "b"}, pos: []string{"a", "b"}, format: "csv"},
		"double dash ends": {args: []string{"a", "--", "--format"}, pos: []string{"a", "--format"}, format: "jsonl"},
		"unknown flag":     {args: []string{"--nope"}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var errOut bytes.Buffer
			fs := newFlagSet("x", "usage", streams{Err: &errOut})
			format := fs.String("format", "jsonl", "")
			pos, err := parseFlags(fs, tc.args)
			if tc.wantErr {
				require.Error(t, err)
				require.Equal(t, exitUsage, codeFor(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.pos, pos)
			require.Equal(t, tc.format, *format)
		})
	}
}

func TestMainHelpListsExitCodes(t *testing.T) {
	code, out, _ := runForTest(t, "--help")
	require.Equal(t, exitOK, code)
	for _, c := range exitCodes {
		require.Contains(t, out, c.text)
	}
	code, _, errOut := runForTest(t, "frobnicate")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, `unknown command "frobnicate"`)
}

func TestDumpUsageErrors(t *testing.T) {
	code, _, errOut := runForTest(t, "dump")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "no input")
	code, _, _ = runForTest(t, "dump", "--format", "xml", "x")
	require.Equal(t, exitUsage, code)
	code, _, errOut = runForTest(t, "dump", "/nonexistent/file.evtx")
	require.Equal(t, exitPartial, code)
	require.Contains(t, errOut, "/nonexistent/file.evtx")
}
