package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/httpclass"
)

// Input is what rules see of one request: the classification of what it
// does, who sends it, and where to. Front doors fill it through the gate.
type Input struct {
	Kind         sluice.RequestKind
	Text         string
	Class        sluice.Class
	Tables       []string
	Functions    []string
	Settings     []string
	Kinds        []string // statement kinds: select, delete, create_table, ...
	Statements   int
	WhereMissing bool
	Identity     *sluice.Identity
	Connection   string
	ClientAddr   netip.Addr
	Now          time.Time
	// HTTP is set for HTTP requests.
	HTTP *HTTPInput
}

// HTTPInput is what rules see of an HTTP request besides its classes.
type HTTPInput struct {
	Method, Host, Query string
	// Path is the decoded path; RawPath the path as sent, for matching
	// rules' path patterns.
	Path, RawPath string
	// Headers are lower-case names to values, credentials removed.
	Headers map[string]string
	// Body is the parsed JSON body, or nil.
	Body     any
	Patterns []string
}

// variables are the names a rule's `when` can use; docs/policy.md
// describes each.
var variables = []cel.EnvOption{
	cel.Variable("read", cel.BoolType),
	cel.Variable("write", cel.BoolType),
	cel.Variable("ddl", cel.BoolType),
	cel.Variable("destructive", cel.BoolType),
	cel.Variable("privileged", cel.BoolType),
	cel.Variable("unknown", cel.BoolType),
	cel.Variable("classes", cel.ListType(cel.StringType)),
	cel.Variable("where_missing", cel.BoolType),
	cel.Variable("tables", cel.ListType(cel.StringType)),
	cel.Variable("functions", cel.ListType(cel.StringType)),
	cel.Variable("settings", cel.ListType(cel.StringType)),
	cel.Variable("kinds", cel.ListType(cel.StringType)),
	cel.Variable("statements", cel.IntType),
	cel.Variable("text", cel.StringType),
	cel.Variable("kind", cel.StringType),
	cel.Variable("subject", cel.StringType),
	cel.Variable("groups", cel.ListType(cel.StringType)),
	cel.Variable("connection", cel.StringType),
	cel.Variable("client_ip", cel.StringType),
	cel.Variable("now", cel.TimestampType),
	cel.Variable("method", cel.StringType),
	cel.Variable("host", cel.StringType),
	cel.Variable("path", cel.StringType),
	cel.Variable("query", cel.StringType),
	cel.Variable("headers", cel.MapType(cel.StringType, cel.StringType)),
	cel.Variable("body", cel.DynType),
	cel.Variable("patterns", cel.ListType(cel.StringType)),
}

// newEnv returns the CEL environment rules are compiled in.
func newEnv() (*cel.Env, error) {
	return cel.NewEnv(variables...)
}

// compileWhen compiles a rule condition; it must be a boolean expression.
func compileWhen(env *cel.Env, expr string) (cel.Program, error) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	if ast.OutputType() != cel.BoolType {
		return nil, fmt.Errorf("must be a boolean expression, not %s", ast.OutputType())
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	// A condition whose cost has no bound that the checker can see (it
	// walks a list, or compares strings of any length) is tracked as it
	// runs and stopped at the limit; one whose worst case is known and
	// below the limit is not, which spares each evaluation a tracker.
	if est, err := env.EstimateCost(ast, unknownSizes{}); err != nil || est.Max > costLimit {
		opts = append(opts, cel.CostLimit(costLimit))
	}
	return env.Program(ast, opts...)
}

// costLimit bounds the cost of evaluating one rule condition, in CEL's
// cost units.
const costLimit = 100000

// unknownSizes is a cost estimator that knows nothing of the variables'
// sizes, so that the checker assumes the worst.
type unknownSizes struct{}

func (unknownSizes) EstimateSize(cost.AstNode) *cost.SizeEstimate { return nil }
func (unknownSizes) EstimateCallCost(string, string, *cost.AstNode, []cost.AstNode) *cost.CallEstimate {
	return nil
}

// activation resolves rule variables from an Input on demand, without
// building a map per request.
type activation struct{ in *Input }

var _ interpreter.Activation = activation{}

func (a activation) Parent() interpreter.Activation { return nil }

func (a activation) ResolveName(name string) (any, bool) {
	in := a.in
	switch name {
	case "read":
		// Only a statement that does nothing but read is a read: a CTE that
		// reads and deletes is not.
		return in.Class == sluice.ClassRead, true
	case "write":
		return in.Class&sluice.ClassWrite != 0, true
	case "ddl":
		return in.Class&sluice.ClassDDL != 0, true
	case "destructive":
		return in.Class&sluice.ClassDestructive != 0, true
	case "privileged":
		return in.Class&sluice.ClassPrivileged != 0, true
	case "unknown":
		return in.Class&sluice.ClassUnknown != 0, true
	case "classes":
		return orEmpty(in.Class.Names()), true
	case "where_missing":
		return in.WhereMissing, true
	case "tables":
		return orEmpty(in.Tables), true
	case "functions":
		return orEmpty(in.Functions), true
	case "settings":
		return orEmpty(in.Settings), true
	case "kinds":
		return orEmpty(in.Kinds), true
	case "statements":
		return int64(in.Statements), true
	case "text":
		return in.Text, true
	case "kind":
		return string(in.Kind), true
	case "subject":
		return in.Identity.Subject, true
	case "groups":
		return orEmpty(in.Identity.Groups), true
	case "connection":
		return in.Connection, true
	case "client_ip":
		if !in.ClientAddr.IsValid() {
			return "", true
		}
		return in.ClientAddr.Unmap().String(), true
	case "now":
		if in.Now.IsZero() {
			return time.Now(), true
		}
		return in.Now, true
	}
	return a.resolveHTTP(name)
}

// noHeaders is what SQL requests show as headers.
var noHeaders = map[string]string{}

// resolveHTTP resolves the HTTP variables; SQL requests see them empty.
func (a activation) resolveHTTP(name string) (any, bool) {
	h := a.in.HTTP
	if h == nil {
		h = &HTTPInput{}
	}
	switch name {
	case "method":
		return h.Method, true
	case "host":
		return h.Host, true
	case "path":
		return h.Path, true
	case "query":
		return h.Query, true
	case "headers":
		if h.Headers == nil {
			return noHeaders, true
		}
		return h.Headers, true
	case "body":
		if h.Body == nil {
			return types.NullValue, true
		}
		return h.Body, true
	case "patterns":
		return orEmpty(h.Patterns), true
	}
	return nil, false
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// rule is a compiled rule.
type rule struct {
	name     string
	when     string
	prog     cel.Program
	decision sluice.Decision
	// http, when set, limits the rule to HTTP requests of these methods
	// and paths.
	http *httpclass.Classifier
}

// Decide returns the decision for one request on a session granted by p:
// the first rule whose condition holds decides; no match denies. A policy
// without rules allows what its grant covers. A condition that fails to
// evaluate counts as true for deny and review rules and false for allow
// rules, so that an error never lets a request through.
func (e *Engine) Decide(p *Policy, in *Input) sluice.Decision {
	if len(p.rules) == 0 {
		return sluice.Decision{Action: sluice.ActionAllow, Policy: p.Name, Rule: "grant"}
	}
	act := activation{in: in}
	for _, r := range p.rules {
		if r.http != nil && !r.httpMatch(in) {
			continue
		}
		out, _, err := r.prog.Eval(act)
		match := false
		if err != nil {
			match = r.decision.Action != sluice.ActionAllow
		} else if b, ok := out.Value().(bool); ok {
			match = b
		}
		if match {
			d := r.decision
			d.Approvers = slices.Clone(d.Approvers)
			return d
		}
	}
	return sluice.Decision{Action: sluice.ActionDeny, Policy: p.Name, Rule: "no rule matched",
		Message: fmt.Sprintf("no rule of policy %q allows this statement", p.Name)}
}

// httpMatch reports whether r's methods and paths cover an HTTP request.
// A path that upstreams may read two ways (an encoded slash or a
// backslash) never lets an allow rule apply, so that /tmp/*/ cannot
// allow /tmp/x%2F..%2F..%2Fprod; deny and review rules apply to either
// reading.
func (r *rule) httpMatch(in *Input) bool {
	if in.HTTP == nil {
		return false
	}
	res := r.http.Classify(in.HTTP.Method, in.HTTP.Host, in.HTTP.RawPath, "")
	if len(res.Patterns) == 0 {
		return false
	}
	return !res.Ambiguous || r.decision.Action != sluice.ActionAllow
}
