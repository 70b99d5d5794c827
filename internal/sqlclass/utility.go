package sqlclass

import (
	"strings"

	pg "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/sluicehq/sluice"
)

const (
	ddl         = sluice.ClassDDL
	destructive = sluice.ClassDestructive
)

// utility classifies the statements that are not queries. It returns false
// for nodes that are not statements it knows.
func (c *classifier) utility(n *pg.Node) bool {
	switch x := n.Node.(type) {
	// Queries wrapped in utilities.
	case *pg.Node_ExplainStmt:
		c.explain(x.ExplainStmt)
	case *pg.Node_PrepareStmt:
		c.prepare(x.PrepareStmt)
	case *pg.Node_ExecuteStmt:
		c.execute(x.ExecuteStmt)
	case *pg.Node_DeallocateStmt:
		c.deallocate(x.DeallocateStmt)
	case *pg.Node_CopyStmt:
		c.copyStmt(x.CopyStmt)
	case *pg.Node_CreateTableAsStmt:
		c.createTableAs(x.CreateTableAsStmt)
	case *pg.Node_DeclareCursorStmt:
		c.count(x.DeclareCursorStmt)
		c.kind("declare_cursor")
		c.add(sluice.ClassRead, "")
		c.node(x.DeclareCursorStmt.Query)
	case *pg.Node_FetchStmt:
		if x.FetchStmt.Ismove {
			c.simple("move", sluice.ClassRead, "", x.FetchStmt)
		} else {
			c.simple("fetch", sluice.ClassRead, "", x.FetchStmt)
		}
	case *pg.Node_ClosePortalStmt:
		c.simple("close", sluice.ClassRead, "", x.ClosePortalStmt)
	case *pg.Node_VariableShowStmt:
		c.simple("show", sluice.ClassRead, "", x.VariableShowStmt)
	case *pg.Node_ConstraintsSetStmt:
		c.simple("set_constraints", sluice.ClassRead, "", x.ConstraintsSetStmt)
	case *pg.Node_ListenStmt:
		c.simple("listen", sluice.ClassRead, "", x.ListenStmt)
	case *pg.Node_UnlistenStmt:
		c.simple("unlisten", sluice.ClassRead, "", x.UnlistenStmt)
	case *pg.Node_NotifyStmt:
		// The normalizer replaces the payload, which the fingerprint
		// includes; an empty payload ('') looks like none in the tree.
		c.constDep = true
		c.simple("notify", sluice.ClassWrite, "NOTIFY sends a notification", x.NotifyStmt)
	case *pg.Node_DoStmt:
		c.doStmt(x.DoStmt)
	case *pg.Node_CallStmt:
		c.count(x.CallStmt)
		c.kind("call")
		c.add(sluice.ClassUnknown, "CALL runs a procedure sluice cannot inspect")
		if x.CallStmt.Funccall != nil {
			c.funcCall(x.CallStmt.Funccall)
		}
		c.nodes(x.CallStmt.Outargs)
	case *pg.Node_DiscardStmt:
		c.discard(x.DiscardStmt)

	// Maintenance and locks.
	case *pg.Node_LockStmt:
		c.simple("lock", sluice.ClassWrite, "LOCK TABLE takes a lock other sessions wait on", x.LockStmt)
	case *pg.Node_VacuumStmt:
		c.vacuum(x.VacuumStmt)
	case *pg.Node_ClusterStmt:
		c.simple("cluster", sluice.ClassWrite|ddl, "CLUSTER rewrites a table under an exclusive lock", x.ClusterStmt)
	case *pg.Node_ReindexStmt:
		c.simple("reindex", sluice.ClassWrite|ddl, "REINDEX rebuilds indexes under a lock", x.ReindexStmt)
	case *pg.Node_RefreshMatViewStmt:
		c.simple("refresh_materialized_view", sluice.ClassWrite, "REFRESH MATERIALIZED VIEW rewrites the view's data", x.RefreshMatViewStmt)
	case *pg.Node_CheckPointStmt:
		c.simple("checkpoint", sluice.ClassPrivileged, "CHECKPOINT is server administration", x.CheckPointStmt)
	case *pg.Node_LoadStmt:
		c.simple("load", sluice.ClassPrivileged, "LOAD loads a server library", x.LoadStmt)

	// Privileges, roles and server configuration.
	case *pg.Node_GrantStmt:
		if x.GrantStmt.IsGrant {
			c.simple("grant", sluice.ClassPrivileged, "GRANT changes privileges", x.GrantStmt)
		} else {
			c.simple("revoke", sluice.ClassPrivileged, "REVOKE changes privileges", x.GrantStmt)
		}
	case *pg.Node_GrantRoleStmt:
		if x.GrantRoleStmt.IsGrant {
			c.simple("grant_role", sluice.ClassPrivileged, "GRANT changes role membership", x.GrantRoleStmt)
		} else {
			c.simple("revoke_role", sluice.ClassPrivileged, "REVOKE changes role membership", x.GrantRoleStmt)
		}
	case *pg.Node_AlterDefaultPrivilegesStmt:
		c.simple("alter_default_privileges", sluice.ClassPrivileged, "changes default privileges", x.AlterDefaultPrivilegesStmt)
	case *pg.Node_CreateRoleStmt:
		kind := "create_role"
		switch x.CreateRoleStmt.StmtType {
		case pg.RoleStmtType_ROLESTMT_USER:
			kind = "create_user"
		case pg.RoleStmtType_ROLESTMT_GROUP:
			kind = "create_group"
		}
		c.simple(kind, sluice.ClassPrivileged, "creates a role", x.CreateRoleStmt)
	case *pg.Node_AlterRoleStmt:
		c.simple("alter_role", sluice.ClassPrivileged, "changes a role", x.AlterRoleStmt)
	case *pg.Node_AlterRoleSetStmt:
		c.simple("alter_role_set", sluice.ClassPrivileged, "changes a setting for a role's future sessions", x.AlterRoleSetStmt)
	case *pg.Node_DropRoleStmt:
		c.simple("drop_role", sluice.ClassPrivileged|destructive, "drops a role", x.DropRoleStmt)
	case *pg.Node_AlterSystemStmt:
		c.simple("alter_system", sluice.ClassPrivileged, "ALTER SYSTEM changes the server configuration", x.AlterSystemStmt)
	case *pg.Node_AlterOwnerStmt:
		c.simple("alter_owner", ddl|sluice.ClassPrivileged, "changes an owner", x.AlterOwnerStmt)
	case *pg.Node_ReassignOwnedStmt:
		c.simple("reassign_owned", ddl|sluice.ClassPrivileged, "REASSIGN OWNED changes owners", x.ReassignOwnedStmt)
	case *pg.Node_DropOwnedStmt:
		c.simple("drop_owned", ddl|destructive|sluice.ClassPrivileged, "DROP OWNED drops a role's objects", x.DropOwnedStmt)
	case *pg.Node_SecLabelStmt:
		c.simple("security_label", ddl|sluice.ClassPrivileged, "SECURITY LABEL changes access control labels", x.SecLabelStmt)
	case *pg.Node_CreatePolicyStmt:
		c.simple("create_policy", ddl|sluice.ClassPrivileged, "changes row-level security", x.CreatePolicyStmt)
	case *pg.Node_AlterPolicyStmt:
		c.simple("alter_policy", ddl|sluice.ClassPrivileged, "changes row-level security", x.AlterPolicyStmt)

	// Databases, extensions, languages, access methods, replication and
	// anything that reaches outside the database.
	case *pg.Node_CreatedbStmt:
		c.simple("create_database", ddl|sluice.ClassPrivileged, "creates a database", x.CreatedbStmt)
	case *pg.Node_AlterDatabaseStmt:
		c.simple("alter_database", ddl|sluice.ClassPrivileged, "changes a database", x.AlterDatabaseStmt)
	case *pg.Node_AlterDatabaseSetStmt:
		c.simple("alter_database_set", ddl|sluice.ClassPrivileged, "changes a setting for a database's future sessions", x.AlterDatabaseSetStmt)
	case *pg.Node_AlterDatabaseRefreshCollStmt:
		c.simple("alter_database", ddl, "changes a database", x.AlterDatabaseRefreshCollStmt)
	case *pg.Node_DropdbStmt:
		c.simple("drop_database", ddl|destructive, "drops a database and its data", x.DropdbStmt)
	case *pg.Node_CreateExtensionStmt:
		c.simple("create_extension", ddl|sluice.ClassPrivileged, "installs an extension (server code)", x.CreateExtensionStmt)
	case *pg.Node_AlterExtensionStmt:
		c.simple("alter_extension", ddl|sluice.ClassPrivileged, "changes an extension (server code)", x.AlterExtensionStmt)
	case *pg.Node_AlterExtensionContentsStmt:
		c.simple("alter_extension", ddl|sluice.ClassPrivileged, "changes an extension (server code)", x.AlterExtensionContentsStmt)
	case *pg.Node_CreatePlangStmt:
		c.simple("create_language", ddl|sluice.ClassPrivileged, "creates a procedural language", x.CreatePlangStmt)
	case *pg.Node_CreateAmStmt:
		c.simple("create_access_method", ddl|sluice.ClassPrivileged, "creates an access method (server code)", x.CreateAmStmt)
	case *pg.Node_CreateEventTrigStmt:
		c.simple("create_event_trigger", ddl|sluice.ClassPrivileged, "event triggers run on every DDL statement", x.CreateEventTrigStmt)
	case *pg.Node_AlterEventTrigStmt:
		c.simple("alter_event_trigger", ddl|sluice.ClassPrivileged, "event triggers run on every DDL statement", x.AlterEventTrigStmt)
	case *pg.Node_CreateFdwStmt:
		c.simple("create_foreign_data_wrapper", ddl|sluice.ClassPrivileged, whyOutside, x.CreateFdwStmt)
	case *pg.Node_AlterFdwStmt:
		c.simple("alter_foreign_data_wrapper", ddl|sluice.ClassPrivileged, whyOutside, x.AlterFdwStmt)
	case *pg.Node_CreateForeignServerStmt:
		c.simple("create_server", ddl|sluice.ClassPrivileged, whyOutside, x.CreateForeignServerStmt)
	case *pg.Node_AlterForeignServerStmt:
		c.simple("alter_server", ddl|sluice.ClassPrivileged, whyOutside, x.AlterForeignServerStmt)
	case *pg.Node_CreateForeignTableStmt:
		c.simple("create_foreign_table", ddl|sluice.ClassPrivileged, whyOutside, x.CreateForeignTableStmt)
	case *pg.Node_CreateUserMappingStmt:
		c.simple("create_user_mapping", ddl|sluice.ClassPrivileged, whyOutside, x.CreateUserMappingStmt)
	case *pg.Node_AlterUserMappingStmt:
		c.simple("alter_user_mapping", ddl|sluice.ClassPrivileged, whyOutside, x.AlterUserMappingStmt)
	case *pg.Node_DropUserMappingStmt:
		c.simple("drop_user_mapping", ddl|destructive|sluice.ClassPrivileged, whyOutside, x.DropUserMappingStmt)
	case *pg.Node_ImportForeignSchemaStmt:
		c.simple("import_foreign_schema", ddl|sluice.ClassPrivileged, whyOutside, x.ImportForeignSchemaStmt)
	case *pg.Node_CreateTableSpaceStmt:
		c.simple("create_tablespace", ddl|sluice.ClassPrivileged, whyFiles, x.CreateTableSpaceStmt)
	case *pg.Node_DropTableSpaceStmt:
		c.simple("drop_tablespace", ddl|destructive|sluice.ClassPrivileged, whyFiles, x.DropTableSpaceStmt)
	case *pg.Node_AlterTableSpaceOptionsStmt:
		c.simple("alter_tablespace", ddl|sluice.ClassPrivileged, whyFiles, x.AlterTableSpaceOptionsStmt)
	case *pg.Node_AlterTableMoveAllStmt:
		c.simple("alter_table_move_all", ddl|sluice.ClassPrivileged, whyFiles, x.AlterTableMoveAllStmt)
	case *pg.Node_CreatePublicationStmt:
		c.simple("create_publication", ddl|sluice.ClassPrivileged, whyReplication, x.CreatePublicationStmt)
	case *pg.Node_AlterPublicationStmt:
		c.simple("alter_publication", ddl|sluice.ClassPrivileged, whyReplication, x.AlterPublicationStmt)
	case *pg.Node_CreateSubscriptionStmt:
		c.constDep = true // the normalizer replaces the connection string
		c.simple("create_subscription", ddl|sluice.ClassPrivileged, whyReplication, x.CreateSubscriptionStmt)
	case *pg.Node_AlterSubscriptionStmt:
		c.constDep = true
		c.simple("alter_subscription", ddl|sluice.ClassPrivileged, whyReplication, x.AlterSubscriptionStmt)
	case *pg.Node_DropSubscriptionStmt:
		c.simple("drop_subscription", ddl|destructive|sluice.ClassPrivileged, whyReplication, x.DropSubscriptionStmt)

	// Schema changes.
	case *pg.Node_CreateStmt:
		c.simple("create_table", ddl, "CREATE TABLE changes the schema", x.CreateStmt)
	case *pg.Node_AlterTableStmt:
		c.alterTable(x.AlterTableStmt)
	case *pg.Node_DropStmt:
		c.drop(x.DropStmt)
	case *pg.Node_TruncateStmt:
		c.simple("truncate", sluice.ClassWrite|ddl|destructive, "TRUNCATE removes every row", x.TruncateStmt)
	case *pg.Node_ViewStmt:
		c.simple("create_view", ddl, "CREATE VIEW changes the schema", x.ViewStmt)
	case *pg.Node_IndexStmt:
		c.simple("create_index", ddl, "CREATE INDEX changes the schema", x.IndexStmt)
	case *pg.Node_CreateSeqStmt:
		c.simple("create_sequence", ddl, "CREATE SEQUENCE changes the schema", x.CreateSeqStmt)
	case *pg.Node_AlterSeqStmt:
		c.simple("alter_sequence", ddl, "ALTER SEQUENCE changes the schema", x.AlterSeqStmt)
	case *pg.Node_CreateSchemaStmt:
		c.simple("create_schema", ddl, "CREATE SCHEMA changes the schema", x.CreateSchemaStmt)
	case *pg.Node_CreateFunctionStmt:
		c.createFunction(x.CreateFunctionStmt)
	case *pg.Node_AlterFunctionStmt:
		c.alterFunction(x.AlterFunctionStmt)
	case *pg.Node_CreateTrigStmt:
		c.simple("create_trigger", ddl, "CREATE TRIGGER changes the schema", x.CreateTrigStmt)
	case *pg.Node_RuleStmt:
		c.simple("create_rule", ddl, "CREATE RULE changes the schema", x.RuleStmt)
	case *pg.Node_CommentStmt:
		c.simple("comment", ddl, "COMMENT changes the schema", x.CommentStmt)
	case *pg.Node_RenameStmt:
		c.simple("rename", ddl, "RENAME changes the schema", x.RenameStmt)
	case *pg.Node_AlterObjectSchemaStmt:
		c.simple("alter_set_schema", ddl, "SET SCHEMA changes the schema", x.AlterObjectSchemaStmt)
	case *pg.Node_AlterObjectDependsStmt:
		c.simple("alter_depends", ddl, "DEPENDS ON EXTENSION changes the schema", x.AlterObjectDependsStmt)
	case *pg.Node_CreateDomainStmt:
		c.simple("create_domain", ddl, whySchema, x.CreateDomainStmt)
	case *pg.Node_AlterDomainStmt:
		c.simple("alter_domain", ddl, whySchema, x.AlterDomainStmt)
	case *pg.Node_CompositeTypeStmt:
		c.simple("create_type", ddl, whySchema, x.CompositeTypeStmt)
	case *pg.Node_CreateEnumStmt:
		c.simple("create_type", ddl, whySchema, x.CreateEnumStmt)
	case *pg.Node_CreateRangeStmt:
		c.simple("create_type", ddl, whySchema, x.CreateRangeStmt)
	case *pg.Node_AlterEnumStmt:
		c.simple("alter_type", ddl, whySchema, x.AlterEnumStmt)
	case *pg.Node_AlterTypeStmt:
		c.simple("alter_type", ddl, whySchema, x.AlterTypeStmt)
	case *pg.Node_DefineStmt:
		c.simple("create_"+objectTypeName(x.DefineStmt.Kind), ddl, whySchema, x.DefineStmt)
	case *pg.Node_AlterCollationStmt:
		c.simple("alter_collation", ddl, whySchema, x.AlterCollationStmt)
	case *pg.Node_CreateCastStmt:
		c.simple("create_cast", ddl, whySchema, x.CreateCastStmt)
	case *pg.Node_CreateTransformStmt:
		c.simple("create_transform", ddl, whySchema, x.CreateTransformStmt)
	case *pg.Node_CreateConversionStmt:
		c.simple("create_conversion", ddl, whySchema, x.CreateConversionStmt)
	case *pg.Node_CreateOpClassStmt:
		c.simple("create_operator_class", ddl, whySchema, x.CreateOpClassStmt)
	case *pg.Node_CreateOpFamilyStmt:
		c.simple("create_operator_family", ddl, whySchema, x.CreateOpFamilyStmt)
	case *pg.Node_AlterOpFamilyStmt:
		c.simple("alter_operator_family", ddl, whySchema, x.AlterOpFamilyStmt)
	case *pg.Node_AlterOperatorStmt:
		c.simple("alter_operator", ddl, whySchema, x.AlterOperatorStmt)
	case *pg.Node_AlterTsdictionaryStmt:
		c.simple("alter_text_search_dictionary", ddl, whySchema, x.AlterTsdictionaryStmt)
	case *pg.Node_AlterTsconfigurationStmt:
		c.simple("alter_text_search_configuration", ddl, whySchema, x.AlterTsconfigurationStmt)
	case *pg.Node_CreateStatsStmt:
		c.simple("create_statistics", ddl, whySchema, x.CreateStatsStmt)
	case *pg.Node_AlterStatsStmt:
		c.simple("alter_statistics", ddl, whySchema, x.AlterStatsStmt)

	// Parts of other statements (SQL function bodies, ALTER TABLE):
	// walked, no class of their own.
	case *pg.Node_ReturnStmt:
		c.fields(x.ReturnStmt.ProtoReflect())
	case *pg.Node_PlassignStmt:
		c.fields(x.PlassignStmt.ProtoReflect())
	case *pg.Node_ReplicaIdentityStmt:
		c.fields(x.ReplicaIdentityStmt.ProtoReflect())
	case *pg.Node_AlterTableCmd:
		c.alterTableCmd(x.AlterTableCmd)

	default:
		if name := string(n.ProtoReflect().Get(n.ProtoReflect().WhichOneof(nodeOneof)).Message().Descriptor().Name()); strings.HasSuffix(name, "Stmt") {
			c.kind("unknown")
			c.add(sluice.ClassUnknown, name+" is a statement sluice does not know")
			c.generic(n)
			return true
		}
		return false
	}
	return true
}

const (
	whyOutside = "reaches another server or holds its credentials"
	whyFiles   = "tablespaces are server file system locations"
	whySchema  = "changes the schema"
)

// simple classifies a statement that needs no more than its kind and class,
// and walks it for tables, functions and settings.
func (c *classifier) simple(kind string, class sluice.Class, reason string, m proto.Message) {
	c.kind(kind)
	c.add(class, reason)
	c.fields(m.ProtoReflect())
}

// objectTypeName turns OBJECT_MATVIEW into "materialized_view" and so on.
func objectTypeName(t pg.ObjectType) string {
	switch t {
	case pg.ObjectType_OBJECT_MATVIEW:
		return "materialized_view"
	case pg.ObjectType_OBJECT_FDW:
		return "foreign_data_wrapper"
	case pg.ObjectType_OBJECT_FOREIGN_SERVER:
		return "server"
	case pg.ObjectType_OBJECT_STATISTIC_EXT:
		return "statistics"
	case pg.ObjectType_OBJECT_TSCONFIGURATION:
		return "text_search_configuration"
	case pg.ObjectType_OBJECT_TSDICTIONARY:
		return "text_search_dictionary"
	case pg.ObjectType_OBJECT_TSPARSER:
		return "text_search_parser"
	case pg.ObjectType_OBJECT_TSTEMPLATE:
		return "text_search_template"
	case pg.ObjectType_OBJECT_TABCONSTRAINT, pg.ObjectType_OBJECT_DOMCONSTRAINT:
		return "constraint"
	case pg.ObjectType_OBJECT_OPCLASS:
		return "operator_class"
	case pg.ObjectType_OBJECT_OPFAMILY:
		return "operator_family"
	}
	return strings.ToLower(strings.TrimPrefix(t.String(), "OBJECT_"))
}

// isRelationType reports whether objects of type t are relations, whose
// names go to Tables.
func isRelationType(t pg.ObjectType) bool {
	switch t {
	case pg.ObjectType_OBJECT_TABLE, pg.ObjectType_OBJECT_VIEW, pg.ObjectType_OBJECT_MATVIEW,
		pg.ObjectType_OBJECT_SEQUENCE, pg.ObjectType_OBJECT_FOREIGN_TABLE, pg.ObjectType_OBJECT_INDEX:
		return true
	}
	return false
}

func (c *classifier) drop(d *pg.DropStmt) {
	kind := "drop_" + objectTypeName(d.RemoveType)
	c.kind(kind)
	c.add(ddl|destructive, strings.ToUpper(strings.ReplaceAll(kind, "_", " "))+" removes objects and what they hold")
	switch d.RemoveType {
	case pg.ObjectType_OBJECT_EXTENSION, pg.ObjectType_OBJECT_LANGUAGE, pg.ObjectType_OBJECT_EVENT_TRIGGER,
		pg.ObjectType_OBJECT_FOREIGN_SERVER, pg.ObjectType_OBJECT_FDW, pg.ObjectType_OBJECT_POLICY,
		pg.ObjectType_OBJECT_ACCESS_METHOD, pg.ObjectType_OBJECT_PUBLICATION:
		c.add(sluice.ClassPrivileged, "drops an object that controls access or runs server code")
	}
	if isRelationType(d.RemoveType) {
		for _, o := range d.Objects {
			if l := o.GetList(); l != nil {
				if parts, ok := stringParts(l.Items, c.buf[:]); ok {
					c.addTable(qualified(parts...))
				}
			}
		}
	}
	c.fields(d.ProtoReflect())
}

func (c *classifier) alterTable(a *pg.AlterTableStmt) {
	kind := "alter_" + objectTypeName(a.Objtype)
	c.kind(kind)
	c.add(ddl, strings.ToUpper(strings.ReplaceAll(kind, "_", " "))+" changes the schema")
	c.fields(a.ProtoReflect())
}

func (c *classifier) alterTableCmd(cmd *pg.AlterTableCmd) {
	switch cmd.Subtype {
	case pg.AlterTableType_AT_DropColumn:
		c.add(destructive, "ALTER TABLE ... DROP COLUMN removes a column and its data")
	case pg.AlterTableType_AT_AlterColumnType:
		c.add(destructive, "ALTER COLUMN ... TYPE rewrites a column and can lose data")
	case pg.AlterTableType_AT_ChangeOwner:
		c.add(sluice.ClassPrivileged, "changes an owner")
	case pg.AlterTableType_AT_EnableRowSecurity, pg.AlterTableType_AT_DisableRowSecurity,
		pg.AlterTableType_AT_ForceRowSecurity, pg.AlterTableType_AT_NoForceRowSecurity:
		c.add(sluice.ClassPrivileged, "changes row-level security")
	case pg.AlterTableType_AT_DisableTrig, pg.AlterTableType_AT_DisableTrigAll,
		pg.AlterTableType_AT_DisableTrigUser, pg.AlterTableType_AT_DisableRule,
		pg.AlterTableType_AT_EnableReplicaTrig, pg.AlterTableType_AT_EnableReplicaRule:
		c.add(sluice.ClassPrivileged, "switches off triggers or rules")
	}
	c.fields(cmd.ProtoReflect())
}

func (c *classifier) vacuum(v *pg.VacuumStmt) {
	if v.IsVacuumcmd {
		c.kind("vacuum")
		c.add(sluice.ClassWrite, "VACUUM is maintenance that writes the table")
	} else {
		c.kind("analyze")
		c.add(sluice.ClassWrite, "ANALYZE writes planner statistics")
	}
	for _, o := range v.Options {
		if d := o.GetDefElem(); d != nil && d.Defname == "full" {
			c.add(ddl, "VACUUM FULL rewrites the table under an exclusive lock")
		}
	}
	c.fields(v.ProtoReflect())
}

func (c *classifier) discard(d *pg.DiscardStmt) {
	switch d.Target {
	case pg.DiscardMode_DISCARD_ALL:
		c.kind("discard_all")
		c.addSetting("all")
		c.add(sluice.ClassRead|sluice.ClassPrivileged, "DISCARD ALL resets the session, undoing settings and roles the gateway applied")
		c.st.defaultRO = roReset
		c.prepared = nil
		c.discarded = true
	case pg.DiscardMode_DISCARD_TEMP:
		c.kind("discard_temp")
		c.add(ddl|destructive, "DISCARD TEMP drops the session's temporary tables")
	case pg.DiscardMode_DISCARD_PLANS:
		c.kind("discard_plans")
		c.add(sluice.ClassRead, "")
	case pg.DiscardMode_DISCARD_SEQUENCES:
		c.kind("discard_sequences")
		c.add(sluice.ClassRead, "")
	default:
		c.kind("discard")
		c.add(sluice.ClassUnknown, "DISCARD form sluice does not know")
	}
	c.count(d)
}
