// Package ocsf maps sluice audit journal records to OCSF events, the JSON
// that sluice's SIEM sinks (syslog, Splunk HEC, webhooks) send when their
// format is "ocsf". Raw is the other format: the record as sluice keeps it.
//
// The events conform to OCSF schema 1.4.0 (Version). Every record maps to
// exactly one event; nothing is dropped.
//
// # Classes
//
//	sluice record                      OCSF class (class_uid)        activity_id
//	---------------------------------  ----------------------------  ------------------------------
//	request/decision/result, sql       Datastore Activity (6005)     from the statement, see below
//	request/decision/result, http      API Activity (6003)           from the method, see below
//	request/decision/result, mcp_tool  API Activity (6003)           from the classes, see below
//	session_start                      Authentication (3002)         1 Logon, status Success
//	auth_failure                       Authentication (3002)         1 Logon, status Failure
//	session_end                        Authentication (3002)         2 Logoff
//	review                             API Activity (6003)           1 Create (created), 3 Update
//	anything else                      Base Event (0)                0 Unknown, 99 Other
//
// Datastore Activity takes its activity from the keyword that starts the
// statement: SELECT, WITH, TABLE, VALUES are 4 Query; SHOW, EXPLAIN, FETCH
// 1 Read; INSERT and CREATE 6 Create; UPDATE, ALTER, GRANT, REVOKE 2
// Update; DELETE, TRUNCATE, DROP 7 Delete; MERGE 5 Write; COPY 5 Write or 1
// Read by its classes; anything else 99 Other; no text 0 Unknown. A
// statement that starts like a read but whose classes say write or
// destructive (a data-modifying CTE, a batch) is 5 Write or 7 Delete.
// query_info.query_string is the statement exactly as recorded (sluice
// masked it before recording), database.name and dst_endpoint.svc_name are
// the connection.
//
// HTTP requests map GET, HEAD and OPTIONS to 2 Read, POST to 1 Create, PUT
// and PATCH to 3 Update and DELETE to 4 Delete, with api.operation the
// method, http_request the upstream URL, method, headers (credentials were
// removed before recording) and body length, and http_response the status
// for results. MCP tool calls have api.operation the tool name (the first
// word of the request text) and take their activity from their classes:
// destructive 4 Delete, write 3 Update, read 2 Read. Bodies and captured
// rows are not copied into the event; the journal and the raw format keep
// them.
//
// Review steps are API Activity because OCSF has no approval class: a
// step is an operation on a sluice resource, the review (in resources),
// with api.operation "review.<step>" (created, notified, notify_failed,
// vote, approved, denied, executed, expired). The actor is the approver
// for votes and decisions, the requester for creation and execution, and
// sluice otherwise.
//
// # Status and verdict
//
// The gate's decision and the result give status_id and the
// security_control profile's action_id and disposition_id:
//
//	record                       status_id         action_id    disposition_id
//	---------------------------  ----------------  -----------  ---------------
//	request, allow               1 Success         1 Allowed    1 Allowed
//	request, deny                2 Failure         2 Denied     2 Blocked
//	request, review (held)       99 Other Pending  1 Allowed    14 Delayed
//	decision after hold, allow   1 Success         1 Allowed    8 Approved
//	decision after hold, deny    2 Failure         2 Denied     2 Blocked
//	result ok                    1 Success         1 Allowed    1 Allowed
//	result error or aborted      2 Failure         1 Allowed    1 Allowed
//	result skipped               99 Other Skipped  1 Allowed    1 Allowed
//	result denied                2 Failure         2 Denied     2 Blocked
//	HTTP result with status≥400  2 Failure         1 Allowed    1 Allowed
//	session_start                1 Success         1 Allowed    1 Allowed
//	auth_failure                 2 Failure         2 Denied     2 Blocked
//	session_end                  1 Success         -            -
//	review pending               1 Success         1 Allowed    14 Delayed
//	review approved or executed  1 Success         1 Allowed    8 Approved
//	review denied                1 Success         2 Denied     2 Blocked
//	review expired               1 Success         2 Denied     99 Other Expired
//
// status_detail carries the policy's message for denials, the error
// ("SQLSTATE: message") for failed results, the command tag for successful
// ones, the reason for auth failures, session ends and review steps;
// status_code the SQLSTATE or HTTP status. A review step whose
// notification failed has status Failure.
//
// # Severity
//
// severity_id follows what the request could do and what the gate did:
//
//   - 1 Informational: allowed reads and their results, logons, logoffs,
//     review notifications.
//   - 2 Low: failed results of reads; logoffs because the credential was
//     revoked or expired or the client broke the protocol.
//   - 3 Medium: allowed writes, DDL and unclassified requests; requests
//     held for review or approved in one; review steps; auth failures.
//   - 4 High: destructive or privileged requests, allowed, held or
//     denied, and the review steps about them; every denied request.
//
// # Common attributes
//
// time is the record's time (when the journal accepted it) in epoch
// milliseconds. metadata.version is Version; metadata.product is the
// Product; metadata.uid is "journal:<seq>", unique per record (a request's
// request, decision and result records share its request id, which is in
// query_info.uid, api.request.uid and unmapped.request_id);
// metadata.correlation_uid is the sluice session id; metadata.sequence the
// journal sequence number; metadata.event_code the sluice event type.
// actor.user.uid is the subject, actor.user.groups its groups and
// actor.session.uid the session; src_endpoint is the client address.
// unmapped holds what OCSF has no attribute for: the request id, classes,
// tables, fingerprint, parameters, policy, rule, review id, approvers, rows,
// masked value counts, token usage, and for reviews their state.
package ocsf
