package sqlclass

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"

	"github.com/sluicehq/sluice"
)

// gucName returns the canonical form of a setting name: PostgreSQL looks
// settings up case-insensitively, so SET "Search_Path" is search_path.
func gucName(s string) string {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b >= 'A' && b <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// privilegedSettings change who the session is, what it may do, how sluice's
// view of later text relates to the server's, or what the server records.
var privilegedSettings = map[string]string{
	"role":                             "SET ROLE changes the session's privileges",
	"session_authorization":            "changes the session user",
	"default_transaction_read_only":    "changes read-only mode, the second line of defence",
	"transaction_read_only":            "changes read-only mode, the second line of defence",
	"search_path":                      "changes search_path, which decides what unqualified table and function names mean",
	"session_replication_role":         "session_replication_role can switch off triggers and foreign-key checks",
	"client_encoding":                  "changes client_encoding; sluice reads statement text as UTF-8",
	"standard_conforming_strings":      "changes how string literals are read; sluice parses with standard_conforming_strings on",
	"local_preload_libraries":          "loads server libraries",
	"session_preload_libraries":        "loads server libraries",
	"shared_preload_libraries":         "loads server libraries",
	"dynamic_library_path":             "changes where server libraries are loaded from",
	"lo_compat_privileges":             "switches off large-object permission checks",
	"allow_system_table_mods":          "allows changes to system catalogs",
	"allow_in_place_tablespaces":       "developer option",
	"ignore_system_indexes":            "developer option",
	"ignore_checksum_failure":          "developer option",
	"ignore_invalid_pages":             "developer option",
	"zero_damaged_pages":               "developer option",
	"jit_provider":                     "loads server libraries",
	"event_triggers":                   "can switch off event triggers",
	"restrict_nonsystem_relation_kind": "security setting",
	"row_security":                     "changes row-level security behaviour",
}

// harmlessSettings only change formatting, planning, resource limits or
// timeouts of the session.
var harmlessSettings = makeSet(
	"application_name", "array_nulls", "backslash_quote", "bytea_output",
	"check_function_bodies", "client_min_messages", "constraint_exclusion",
	"cpu_index_tuple_cost", "cpu_operator_cost", "cpu_tuple_cost", "cursor_tuple_fraction",
	"datestyle", "default_statistics_target", "default_table_access_method",
	"default_tablespace", "default_text_search_config", "default_toast_compression",
	"default_transaction_deferrable", "default_transaction_isolation",
	"effective_cache_size", "effective_io_concurrency", "escape_string_warning",
	"exit_on_error", "extra_float_digits", "from_collapse_limit", "geqo", "geqo_effort",
	"geqo_generations", "geqo_pool_size", "geqo_seed", "geqo_selection_bias",
	"geqo_threshold", "gin_fuzzy_search_limit", "gin_pending_list_limit",
	"hash_mem_multiplier", "idle_in_transaction_session_timeout", "idle_session_timeout",
	"intervalstyle", "jit", "jit_above_cost", "jit_inline_above_cost",
	"jit_optimize_above_cost", "join_collapse_limit", "lc_monetary", "lc_numeric", "lc_time",
	"lock_timeout", "maintenance_io_concurrency", "maintenance_work_mem",
	"max_parallel_maintenance_workers", "max_parallel_workers",
	"max_parallel_workers_per_gather", "min_parallel_index_scan_size",
	"min_parallel_table_scan_size", "parallel_leader_participation", "parallel_setup_cost",
	"parallel_tuple_cost", "plan_cache_mode", "quote_all_identifiers", "random_page_cost",
	"recursive_worktree_factor", "seq_page_cost", "statement_timeout", "synchronous_commit",
	"tcp_keepalives_count", "tcp_keepalives_idle", "tcp_keepalives_interval",
	"tcp_user_timeout", "temp_buffers", "temp_tablespaces", "timezone",
	"transaction_deferrable", "transaction_isolation", "transaction_timeout",
	"transform_null_equals", "vacuum_cost_delay", "vacuum_cost_limit",
	"vacuum_cost_page_dirty", "vacuum_cost_page_hit", "vacuum_cost_page_miss",
	"vacuum_freeze_min_age", "vacuum_freeze_table_age", "vacuum_multixact_freeze_min_age",
	"vacuum_multixact_freeze_table_age", "work_mem", "xmlbinary", "xmloption",
	"debug_parallel_query", "force_parallel_mode", "password_encryption",
)

// settingClass returns the class of changing setting name (canonical form)
// and why. The class never depends on the value set.
func settingClass(name string) (sluice.Class, string) {
	if why, ok := privilegedSettings[name]; ok {
		return sluice.ClassPrivileged, "changes " + name + ": " + why
	}
	if _, ok := harmlessSettings[name]; ok {
		return 0, ""
	}
	switch {
	case strings.HasPrefix(name, "enable_"):
		return 0, ""
	case strings.Contains(name, "."):
		return sluice.ClassPrivileged, "changes custom setting " + name + " (row-level security policies and extensions read these)"
	case strings.HasPrefix(name, "log_"), strings.HasPrefix(name, "track_"),
		strings.HasPrefix(name, "debug_"), strings.HasPrefix(name, "trace_"):
		return sluice.ClassPrivileged, "changes " + name + ", which controls what the server logs or records"
	}
	return sluice.ClassUnknown, "changes " + name + ", which sluice does not know to be harmless"
}

// variableSet classifies SET, SET LOCAL, RESET, SET TRANSACTION and SET
// SESSION CHARACTERISTICS, also where they are part of ALTER ... SET.
func (c *classifier) variableSet(v *pg.VariableSetStmt) {
	c.count(v)
	// Part of ALTER ROLE/DATABASE/SYSTEM/FUNCTION ... SET, it changes
	// neither the statement's kind nor this session's state.
	top := c.st.Kind == ""
	if top {
		c.add(sluice.ClassRead, "")
	}
	switch v.Kind {
	case pg.VariableSetKind_VAR_SET_MULTI:
		c.setMulti(v)
	case pg.VariableSetKind_VAR_RESET_ALL:
		c.kind("reset_all")
		c.addSetting("all")
		c.add(sluice.ClassPrivileged, "RESET ALL returns every setting to its default, undoing settings the gateway applied")
		if top {
			c.st.defaultRO = roReset
		}
	default:
		name := gucName(v.Name)
		if v.Kind == pg.VariableSetKind_VAR_RESET {
			c.kind("reset")
		} else {
			c.kind("set")
		}
		c.addSetting(name)
		if c.funcDef == 0 {
			class, why := settingClass(name)
			if v.Kind == pg.VariableSetKind_VAR_RESET && name == "role" {
				why = "RESET ROLE returns to the login role's privileges"
			}
			c.add(class, why)
		}
		if name == "default_transaction_read_only" && !v.IsLocal && top {
			c.st.defaultRO = c.readOnlyValue(v)
		}
	}
	c.nodes(v.Args)
}

// setMulti classifies SET TRANSACTION, SET SESSION CHARACTERISTICS AS
// TRANSACTION and SET TRANSACTION SNAPSHOT.
func (c *classifier) setMulti(v *pg.VariableSetStmt) {
	switch v.Name {
	case "TRANSACTION":
		c.kind("set_transaction")
		for _, n := range v.Args {
			d := n.GetDefElem()
			if d == nil {
				continue
			}
			c.addSetting(d.Defname)
			if d.Defname == "transaction_read_only" {
				c.st.txReadOnly = c.boolOption(d)
				if c.st.txReadOnly != roOn {
					c.add(sluice.ClassPrivileged, "SET TRANSACTION READ WRITE escapes a read-only transaction")
				}
			}
		}
	case "SESSION CHARACTERISTICS":
		c.kind("set_session_characteristics")
		for _, n := range v.Args {
			d := n.GetDefElem()
			if d == nil {
				continue
			}
			c.addSetting("default_" + d.Defname)
			if d.Defname == "transaction_read_only" {
				c.st.defaultRO = c.boolOption(d)
				c.add(sluice.ClassPrivileged, "changes default_transaction_read_only, the second line of defence")
			}
		}
	case "TRANSACTION SNAPSHOT":
		c.kind("set_transaction_snapshot")
	default:
		c.kind("set")
		c.add(sluice.ClassUnknown, "SET form sluice does not know")
	}
}

// boolOption returns the read-only mode a transaction_read_only option
// (READ ONLY / READ WRITE) asks for.
func (c *classifier) boolOption(d *pg.DefElem) int8 {
	c.constDep = true
	ac := d.Arg.GetAConst()
	if ac == nil {
		return roUnknown
	}
	if i := ac.GetIval(); i != nil {
		if i.Ival != 0 {
			return roOn
		}
		return roOff
	}
	if ac.GetVal() == nil && !ac.Isnull {
		return roOff // Integer 0 is encoded as an empty value
	}
	return roUnknown
}

// readOnlyValue returns the mode SET default_transaction_read_only asks for.
func (c *classifier) readOnlyValue(v *pg.VariableSetStmt) int8 {
	switch v.Kind {
	case pg.VariableSetKind_VAR_RESET, pg.VariableSetKind_VAR_SET_DEFAULT:
		return roReset
	case pg.VariableSetKind_VAR_SET_VALUE:
	default:
		return roUnknown
	}
	if len(v.Args) != 1 {
		return roUnknown
	}
	c.constDep = true
	ac := v.Args[0].GetAConst()
	if ac == nil {
		return roUnknown
	}
	var s string
	switch {
	case ac.GetSval() != nil:
		s = ac.GetSval().Sval
	case ac.GetBoolval() != nil:
		if ac.GetBoolval().Boolval {
			return roOn
		}
		return roOff
	case ac.GetIval() != nil:
		switch ac.GetIval().Ival {
		case 1:
			return roOn
		case 0:
			return roOff
		}
		return roUnknown
	case ac.GetVal() == nil && !ac.Isnull:
		return roOff // Integer 0
	default:
		return roUnknown
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "yes", "1", "t", "tr", "tru", "y", "ye":
		return roOn
	case "off", "false", "no", "0", "of", "f", "fa", "fal", "fals", "n":
		return roOff
	}
	return roUnknown
}
