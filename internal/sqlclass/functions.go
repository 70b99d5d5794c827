package sqlclass

import (
	"strings"

	"github.com/sluicehq/sluice"
)

// A danger is what calling a known function does beyond reading.
type danger struct {
	class sluice.Class
	why   string
}

// Reasons shared by several functions.
const (
	whyFile        = "server file access"
	whyRemote      = "connects to another database"
	whyBackend     = "signals another server process"
	whyConfig      = "changes server configuration"
	whySetConfig   = "changes a setting; its effect depends on the values"
	whyAdmin       = "server administration"
	whyReplication = "controls replication"
	whyStats       = "resets statistics"
	whySequence    = "advances or sets a sequence"
	whyAdvisory    = "takes or releases an advisory lock other sessions can wait on"
	whyLargeObject = "writes a large object"
	whyLODelete    = "deletes a large object"
	whyNotify      = "sends a notification"
	whyXID         = "assigns a transaction ID"
	whyRunsSQL     = "runs SQL given as a string"
)

var (
	privileged  = sluice.ClassPrivileged
	write       = sluice.ClassWrite
	unknownExec = sluice.ClassUnknown
)

// dangerous lists functions, by unqualified name, that do more than read.
// A name here is matched in any schema: an extension function such as dblink
// may live anywhere, and a same-named function in another schema is at least
// as suspect. Names starting with "dblink" are matched by dangerFor.
var dangerous = map[string]danger{
	// Server files and programs.
	"pg_read_file":              {privileged, whyFile},
	"pg_read_binary_file":       {privileged, whyFile},
	"pg_ls_dir":                 {privileged, whyFile},
	"pg_stat_file":              {privileged, whyFile},
	"pg_ls_logdir":              {privileged, whyFile},
	"pg_ls_waldir":              {privileged, whyFile},
	"pg_ls_tmpdir":              {privileged, whyFile},
	"pg_ls_archive_statusdir":   {privileged, whyFile},
	"pg_ls_logicalsnapdir":      {privileged, whyFile},
	"pg_ls_logicalmapdir":       {privileged, whyFile},
	"pg_ls_replslotdir":         {privileged, whyFile},
	"pg_ls_summariesdir":        {privileged, whyFile},
	"pg_file_write":             {privileged, whyFile},
	"pg_file_rename":            {privileged, whyFile},
	"pg_file_unlink":            {privileged, whyFile},
	"pg_file_sync":              {privileged, whyFile},
	"pg_logdir_ls":              {privileged, whyFile},
	"pg_current_logfile":        {privileged, whyFile},
	"pg_show_all_file_settings": {privileged, whyFile},
	"pg_hba_file_rules":         {privileged, whyFile},
	"pg_ident_file_mappings":    {privileged, whyFile},
	"lo_import":                 {privileged | write, whyFile},
	"lo_export":                 {privileged, whyFile},

	// Other databases.
	"postgres_fdw_get_connections": {privileged, whyRemote},
	"postgres_fdw_disconnect":      {privileged, whyRemote},
	"postgres_fdw_disconnect_all":  {privileged, whyRemote},

	// Other backends.
	"pg_terminate_backend":           {privileged, whyBackend},
	"pg_cancel_backend":              {privileged, whyBackend},
	"pg_log_backend_memory_contexts": {privileged, whyBackend},

	// Configuration and administration.
	"set_config":                  {privileged, whySetConfig},
	"pg_reload_conf":              {privileged, whyConfig},
	"pg_rotate_logfile":           {privileged, whyAdmin},
	"pg_promote":                  {privileged, whyAdmin},
	"pg_switch_wal":               {privileged, whyAdmin},
	"pg_create_restore_point":     {privileged, whyAdmin},
	"pg_backup_start":             {privileged, whyAdmin},
	"pg_backup_stop":              {privileged, whyAdmin},
	"pg_start_backup":             {privileged, whyAdmin},
	"pg_stop_backup":              {privileged, whyAdmin},
	"pg_wal_replay_pause":         {privileged, whyAdmin},
	"pg_wal_replay_resume":        {privileged, whyAdmin},
	"pg_import_system_collations": {privileged | write, whyAdmin},
	"pg_log_standby_snapshot":     {privileged, whyAdmin},

	// Replication.
	"pg_create_physical_replication_slot": {privileged, whyReplication},
	"pg_create_logical_replication_slot":  {privileged, whyReplication},
	"pg_drop_replication_slot":            {privileged, whyReplication},
	"pg_replication_slot_advance":         {privileged, whyReplication},
	"pg_copy_physical_replication_slot":   {privileged, whyReplication},
	"pg_copy_logical_replication_slot":    {privileged, whyReplication},
	"pg_logical_slot_get_changes":         {privileged, whyReplication},
	"pg_logical_slot_peek_changes":        {privileged, whyReplication},
	"pg_logical_slot_get_binary_changes":  {privileged, whyReplication},
	"pg_logical_slot_peek_binary_changes": {privileged, whyReplication},
	"pg_logical_emit_message":             {privileged | write, whyReplication},
	"pg_sync_replication_slots":           {privileged, whyReplication},
	"pg_replication_origin_create":        {privileged, whyReplication},
	"pg_replication_origin_drop":          {privileged, whyReplication},
	"pg_replication_origin_advance":       {privileged, whyReplication},
	"pg_replication_origin_session_setup": {privileged, whyReplication},
	"pg_replication_origin_session_reset": {privileged, whyReplication},
	"pg_replication_origin_xact_setup":    {privileged, whyReplication},
	"pg_replication_origin_xact_reset":    {privileged, whyReplication},

	// Statistics.
	"pg_stat_reset":                          {privileged, whyStats},
	"pg_stat_reset_shared":                   {privileged, whyStats},
	"pg_stat_reset_single_table_counters":    {privileged, whyStats},
	"pg_stat_reset_single_function_counters": {privileged, whyStats},
	"pg_stat_reset_slru":                     {privileged, whyStats},
	"pg_stat_reset_replication_slot":         {privileged, whyStats},
	"pg_stat_reset_subscription_stats":       {privileged, whyStats},
	"pg_stat_statements_reset":               {privileged, whyStats},

	// Writes.
	"nextval":                          {write, whySequence},
	"setval":                           {write, whySequence},
	"pg_advisory_lock":                 {write, whyAdvisory},
	"pg_advisory_lock_shared":          {write, whyAdvisory},
	"pg_advisory_xact_lock":            {write, whyAdvisory},
	"pg_advisory_xact_lock_shared":     {write, whyAdvisory},
	"pg_try_advisory_lock":             {write, whyAdvisory},
	"pg_try_advisory_lock_shared":      {write, whyAdvisory},
	"pg_try_advisory_xact_lock":        {write, whyAdvisory},
	"pg_try_advisory_xact_lock_shared": {write, whyAdvisory},
	"pg_advisory_unlock":               {write, whyAdvisory},
	"pg_advisory_unlock_shared":        {write, whyAdvisory},
	"pg_advisory_unlock_all":           {write, whyAdvisory},
	"lo_create":                        {write, whyLargeObject},
	"lo_creat":                         {write, whyLargeObject},
	"lo_open":                          {write, whyLargeObject},
	"lowrite":                          {write, whyLargeObject},
	"lo_put":                           {write, whyLargeObject},
	"lo_from_bytea":                    {write, whyLargeObject},
	"lo_truncate":                      {write, whyLargeObject},
	"lo_truncate64":                    {write, whyLargeObject},
	"lo_unlink":                        {write | sluice.ClassDestructive, whyLODelete},
	"pg_notify":                        {write, whyNotify},
	"txid_current":                     {write, whyXID},
	"pg_current_xact_id":               {write, whyXID},

	// Functions that run SQL text or read tables named in a string: what
	// they do cannot be seen in the parse tree.
	"query_to_xml":                  {unknownExec, whyRunsSQL},
	"query_to_xmlschema":            {unknownExec, whyRunsSQL},
	"query_to_xml_and_xmlschema":    {unknownExec, whyRunsSQL},
	"cursor_to_xml":                 {unknownExec, whyRunsSQL},
	"cursor_to_xmlschema":           {unknownExec, whyRunsSQL},
	"table_to_xml":                  {unknownExec, whyRunsSQL},
	"table_to_xmlschema":            {unknownExec, whyRunsSQL},
	"table_to_xml_and_xmlschema":    {unknownExec, whyRunsSQL},
	"schema_to_xml":                 {unknownExec, whyRunsSQL},
	"schema_to_xmlschema":           {unknownExec, whyRunsSQL},
	"schema_to_xml_and_xmlschema":   {unknownExec, whyRunsSQL},
	"database_to_xml":               {unknownExec, whyRunsSQL},
	"database_to_xmlschema":         {unknownExec, whyRunsSQL},
	"database_to_xml_and_xmlschema": {unknownExec, whyRunsSQL},
	"ts_stat":                       {unknownExec, whyRunsSQL},
	"ts_rewrite":                    {unknownExec, whyRunsSQL},
}

// dangerFor returns what calling the function named name (unqualified, as
// stored in the parse tree) does beyond reading.
func dangerFor(name string) (danger, bool) {
	if d, ok := dangerous[name]; ok {
		return d, true
	}
	if strings.HasPrefix(name, "dblink") {
		return danger{privileged, whyRemote}, true
	}
	return danger{}, false
}

// safeFunctions is the allow-list: built-in functions, by unqualified name,
// that only compute a value from their arguments or read the catalog, the
// session or the clock. A call keeps a statement read when the function is
// written unqualified or qualified with pg_catalog (which search_path always
// searches first unless search_path is changed, and changing it is
// privileged). Anything else is unknown.
var safeFunctions = makeSet(
	// Aggregates and window functions.
	"count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg", "jsonb_agg",
	"json_agg_strict", "jsonb_agg_strict", "json_object_agg", "jsonb_object_agg",
	"json_object_agg_strict", "jsonb_object_agg_strict", "json_object_agg_unique",
	"jsonb_object_agg_unique", "json_object_agg_unique_strict", "jsonb_object_agg_unique_strict",
	"bool_and", "bool_or", "every", "bit_and", "bit_or", "bit_xor", "stddev", "stddev_pop",
	"stddev_samp", "variance", "var_pop", "var_samp", "corr", "covar_pop", "covar_samp",
	"regr_avgx", "regr_avgy", "regr_count", "regr_intercept", "regr_r2", "regr_slope",
	"regr_sxx", "regr_sxy", "regr_syy", "percentile_cont", "percentile_disc", "mode",
	"any_value", "range_agg", "range_intersect_agg", "xmlagg",
	"row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "lag", "lead",
	"first_value", "last_value", "nth_value",

	// Math.
	"abs", "ceil", "ceiling", "floor", "round", "trunc", "sign", "sqrt", "cbrt", "power", "pow",
	"exp", "ln", "log", "log10", "mod", "div", "degrees", "radians", "pi", "random",
	"random_normal", "setseed", "gcd", "lcm", "factorial", "width_bucket", "scale", "min_scale",
	"trim_scale", "sin", "cos", "tan", "cot", "asin", "acos", "atan", "atan2", "sind", "cosd",
	"tand", "cotd", "asind", "acosd", "atand", "atan2d", "sinh", "cosh", "tanh", "asinh",
	"acosh", "atanh", "erf", "erfc", "num_nulls", "num_nonnulls",

	// Strings and binary strings.
	"length", "char_length", "character_length", "octet_length", "bit_length", "lower", "upper",
	"initcap", "substr", "substring", "position", "strpos", "replace", "translate", "btrim",
	"ltrim", "rtrim", "lpad", "rpad", "left", "right", "repeat", "reverse", "split_part",
	"concat", "concat_ws", "format", "md5", "sha224", "sha256", "sha384", "sha512", "crc32",
	"crc32c", "encode", "decode", "ascii", "chr", "quote_ident", "quote_literal",
	"quote_nullable", "regexp_match", "regexp_matches", "regexp_replace",
	"regexp_split_to_array", "regexp_split_to_table", "regexp_count", "regexp_instr",
	"regexp_like", "regexp_substr", "starts_with", "string_to_array", "string_to_table",
	"array_to_string", "unistr", "normalize", "is_normalized", "overlay", "convert",
	"convert_from", "convert_to", "to_hex", "to_bin", "to_oct", "to_ascii", "parse_ident",
	"similar_to_escape", "like_escape", "get_byte", "set_byte", "get_bit", "set_bit",
	"bit_count", "casefold", "text", "varchar", "bpchar", "char", "name",

	// Formatting and dates.
	"to_char", "to_number", "to_date", "to_timestamp", "now", "clock_timestamp",
	"statement_timestamp", "transaction_timestamp", "timeofday", "date_part", "date_trunc",
	"date_bin", "extract", "age", "make_date", "make_time", "make_timestamp",
	"make_timestamptz", "make_interval", "justify_days", "justify_hours", "justify_interval",
	"isfinite", "timezone", "overlaps", "date_add", "date_subtract", "pg_sleep",
	"pg_sleep_for", "pg_sleep_until",

	// JSON.
	"to_json", "to_jsonb", "json_build_object", "jsonb_build_object", "json_build_array",
	"jsonb_build_array", "json_object", "jsonb_object", "json_array_length",
	"jsonb_array_length", "json_each", "jsonb_each", "json_each_text", "jsonb_each_text",
	"json_extract_path", "jsonb_extract_path", "json_extract_path_text",
	"jsonb_extract_path_text", "json_object_keys", "jsonb_object_keys",
	"json_populate_record", "jsonb_populate_record", "jsonb_populate_record_valid",
	"json_populate_recordset", "jsonb_populate_recordset", "json_to_record",
	"jsonb_to_record", "json_to_recordset", "jsonb_to_recordset", "json_array_elements",
	"jsonb_array_elements", "json_array_elements_text", "jsonb_array_elements_text",
	"json_typeof", "jsonb_typeof", "json_strip_nulls", "jsonb_strip_nulls", "jsonb_set",
	"jsonb_set_lax", "jsonb_insert", "jsonb_pretty", "jsonb_path_query",
	"jsonb_path_query_array", "jsonb_path_query_first", "jsonb_path_exists",
	"jsonb_path_match", "jsonb_path_query_tz", "jsonb_path_query_array_tz",
	"jsonb_path_query_first_tz", "jsonb_path_exists_tz", "jsonb_path_match_tz",
	"row_to_json", "array_to_json", "json", "jsonb", "json_scalar", "json_serialize",

	// Arrays, ranges and set-returning helpers.
	"array_length", "array_lower", "array_upper", "array_dims", "array_ndims", "array_append",
	"array_prepend", "array_cat", "array_position", "array_positions", "array_remove",
	"array_replace", "array_fill", "array_sample", "array_shuffle", "array_reverse",
	"array_sort", "trim_array", "cardinality", "unnest", "generate_series",
	"generate_subscripts", "lower_inc", "upper_inc", "lower_inf", "upper_inf", "isempty",
	"range_merge", "int4range", "int8range", "numrange", "tsrange", "tstzrange", "daterange",
	"int4multirange", "int8multirange", "nummultirange", "tsmultirange", "tstzmultirange",
	"datemultirange", "multirange",

	// Text search.
	"to_tsvector", "to_tsquery", "plainto_tsquery", "phraseto_tsquery",
	"websearch_to_tsquery", "ts_rank", "ts_rank_cd", "ts_headline", "setweight", "strip",
	"numnode", "querytree", "tsvector_to_array", "array_to_tsvector", "ts_delete",
	"ts_filter", "ts_lexize", "json_to_tsvector", "jsonb_to_tsvector",
	"get_current_ts_config",

	// XML values (not the *_to_xml functions, which run queries).
	"xmlcomment", "xmlconcat", "xmltext", "xpath", "xpath_exists", "xmlexists",
	"xml_is_well_formed", "xml_is_well_formed_document", "xml_is_well_formed_content",

	// Networks, UUIDs, geometry, type conversions.
	"abbrev", "broadcast", "family", "host", "hostmask", "inet_merge", "inet_same_family",
	"masklen", "netmask", "network", "set_masklen", "macaddr8_set7bit",
	"gen_random_uuid", "uuidv4", "uuidv7", "uuid_extract_timestamp", "uuid_extract_version",
	"point", "box", "circle", "lseg", "path", "polygon", "area", "center", "diameter",
	"radius", "height", "width", "npoints", "isclosed", "isopen", "pclose", "popen",
	"int2", "int4", "int8", "float4", "float8", "numeric", "bool", "date", "time",
	"timestamp", "timestamptz", "interval", "bytea", "oid", "money", "inet", "cidr",
	"uuid", "bit", "varbit",

	// Session, catalog and server information.
	"version", "current_database", "current_schema", "current_schemas", "current_query",
	"current_setting", "pg_typeof", "format_type", "pg_backend_pid", "pg_blocking_pids",
	"pg_safe_snapshot_blocking_pids", "pg_trigger_depth", "pg_postmaster_start_time",
	"pg_conf_load_time", "pg_is_in_recovery", "pg_jit_available", "pg_listening_channels",
	"pg_notification_queue_usage", "pg_client_encoding", "pg_encoding_to_char",
	"pg_char_to_encoding", "pg_encoding_max_length", "inet_client_addr", "inet_client_port",
	"inet_server_addr", "inet_server_port", "pg_my_temp_schema", "pg_is_other_temp_schema",
	"obj_description", "col_description", "shobj_description", "pg_describe_object",
	"pg_identify_object", "pg_identify_object_as_address", "pg_get_object_address",
	"pg_get_viewdef", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_functiondef",
	"pg_get_function_arguments", "pg_get_function_identity_arguments",
	"pg_get_function_result", "pg_get_function_arg_default", "pg_get_function_sqlbody",
	"pg_get_triggerdef", "pg_get_ruledef", "pg_get_expr", "pg_get_serial_sequence",
	"pg_get_userbyid", "pg_get_keywords", "pg_get_partkeydef",
	"pg_get_partition_constraintdef", "pg_get_statisticsobjdef",
	"pg_get_statisticsobjdef_columns", "pg_get_statisticsobjdef_expressions",
	"pg_get_replica_identity_index", "pg_options_to_table", "pg_tablespace_databases",
	"pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible",
	"pg_operator_is_visible", "pg_opclass_is_visible", "pg_opfamily_is_visible",
	"pg_collation_is_visible", "pg_conversion_is_visible", "pg_statistics_obj_is_visible",
	"pg_ts_parser_is_visible", "pg_ts_dict_is_visible", "pg_ts_template_is_visible",
	"pg_ts_config_is_visible",
	"has_table_privilege", "has_column_privilege", "has_any_column_privilege",
	"has_schema_privilege", "has_database_privilege", "has_function_privilege",
	"has_sequence_privilege", "has_language_privilege", "has_tablespace_privilege",
	"has_type_privilege", "has_server_privilege", "has_foreign_data_wrapper_privilege",
	"has_parameter_privilege", "has_largeobject_privilege", "pg_has_role",
	"row_security_active", "pg_column_is_updatable", "pg_relation_is_updatable",
	"pg_indexam_has_property", "pg_index_column_has_property", "pg_index_has_property",
	"pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size",
	"pg_database_size", "pg_tablespace_size", "pg_size_pretty", "pg_size_bytes",
	"pg_column_size", "pg_column_compression", "pg_column_toast_chunk_id",
	"pg_relation_filenode", "pg_filenode_relation", "pg_partition_tree", "pg_partition_root",
	"pg_partition_ancestors", "to_regclass", "to_regtype", "to_regtypemod", "to_regproc",
	"to_regprocedure", "to_regoper", "to_regoperator", "to_regnamespace", "to_regrole",
	"to_regcollation", "pg_input_is_valid", "pg_input_error_info", "pg_collation_actual_version",
	"pg_sequence_last_value", "currval", "lastval", "pg_export_snapshot",
	"pg_current_snapshot", "pg_snapshot_xmin", "pg_snapshot_xmax", "pg_snapshot_xip",
	"pg_visible_in_snapshot", "pg_xact_status", "pg_current_xact_id_if_assigned",
	"txid_current_if_assigned", "txid_current_snapshot", "txid_snapshot_xmin",
	"txid_snapshot_xmax", "txid_snapshot_xip", "txid_visible_in_snapshot", "txid_status",
	"pg_xact_commit_timestamp", "pg_last_committed_xact", "pg_current_wal_lsn",
	"pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_wal_receive_lsn",
	"pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_wal_lsn_diff",
	"pg_walfile_name", "pg_walfile_name_offset", "pg_is_wal_replay_paused",
	"pg_get_wal_replay_pause_state", "pg_collation_for", "pg_stat_clear_snapshot",
	"lo_get", "loread", "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64", "lo_close",
	"pg_stat_get_activity", "pg_stat_get_backend_pid",
)

func makeSet(names ...string) map[string]struct{} {
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	return m
}

// isSafeFunction reports whether a call of name, qualified by schema ("" when
// written unqualified), is on the allow-list.
func isSafeFunction(schema, name string) bool {
	if schema != "" && schema != "pg_catalog" {
		return false
	}
	_, ok := safeFunctions[name]
	return ok
}

// trustedLanguages are procedural languages that cannot reach outside the
// database. Functions in any other language (plperlu, plpython3u, c,
// internal, ...) are privileged.
var trustedLanguages = makeSet("sql", "plpgsql", "plperl", "pltcl", "plv8", "pljs")
