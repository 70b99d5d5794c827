package pgwire

import (
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestParamFormats records how each parameter was bound, so that a replay
// can send it the same way.
func TestParamFormats(t *testing.T) {
	two := [][]byte{{0, 0, 0, 2}, []byte("x")}
	cases := []struct {
		name    string
		formats []int16
		params  [][]byte
		want    []int16
	}{
		{"none given: all text", nil, two, nil},
		{"one code for all, text", []int16{0}, two, nil},
		{"one code for all, binary", []int16{1}, two, []int16{1, 1}},
		{"per parameter", []int16{1, 0}, two, []int16{1, 0}},
		{"no parameters", []int16{1}, nil, nil},
	}
	for _, c := range cases {
		b := &pgproto3.Bind{ParameterFormatCodes: c.formats, Parameters: c.params}
		if got := paramFormats(b); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	b := &pgproto3.Bind{ParameterFormatCodes: []int16{1, 0}, Parameters: [][]byte{{0, 0, 0, 2}, nil}}
	if got := renderParams(b); *got[0] != `\x00000002` || got[1] != nil {
		t.Errorf("renderParams: %v", got)
	}
}
