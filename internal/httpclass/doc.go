// Package httpclass classifies the HTTP API requests sluice proxies to an
// upstream (cloud management APIs, Kubernetes, S3, the Claude API) the way
// package sqlclass classifies SQL: into sluice.Class bits, with the names of
// the patterns that matched and reasons in words.
//
// A request is classified by its method and by patterns of method, path,
// query and host. Without a matching pattern the method decides:
//
//   - read: GET, HEAD, OPTIONS
//   - write: POST, PUT, PATCH
//   - write|destructive: DELETE
//   - unknown: every other method, TRACE (it echoes the request back,
//     injected credentials included) and CONNECT (a tunnel) among them, and
//     methods in the wrong case ("delete"); unknown is the most restrictive
//     class.
//
// When patterns match, the union of their classes replaces the method's, so
// that a pattern can say POST /v1/messages is a read or that GET on a
// pod's exec subresource is privileged. Two floors hold whatever matches: a
// DELETE is at least write|destructive, and a method that is unknown stays
// unknown. Every matching pattern is reported; a resource group delete
// matches both azure.delete_resource_group and azure.delete_resource.
//
// The classes mean for HTTP what they mean for SQL (docs/classes.md):
// read changes nothing; write changes stored state; destructive removes
// data or objects wholesale, or can (lifecycle rules, a regenerated key);
// privileged changes who may do what, reads or mints credentials, or
// reaches inside a machine or container (exec, run command, node proxy);
// unknown could not be classified or does what sluice cannot see (a batch
// of requests, a template deployment). The built-in patterns do not use
// ddl.
//
// # Paths
//
// The escaped request path is cleaned before matching: split at "/", each
// segment percent-decoded once, empty segments dropped ("//" and a trailing
// slash do not matter), "." and ".." resolved (also as %2E). A path that
// climbs above the root, holds a bad escape or does not start with "/" is
// unknown. An encoded slash does not split a segment: /bucket/a%2Fb has the
// segments "bucket" and "a/b". Because some upstreams decode before routing
// (any Go server, the Kubernetes API server among them) and some read "\"
// as "/", a path holding %2F, %5C or "\" is also matched in that reading,
// and the result is the union of both.
//
// An upstream that takes dot segments literally (S3 object keys may hold
// "..") sees another path than the one classified unless the proxy
// forwards the path as cleaned or refuses paths that are not clean.
//
// Pattern matching is ASCII case-insensitive throughout: path segments (ARM
// paths are case-insensitive), query names and values, and the host.
//
// # Hosts
//
// The Resource Manager patterns name no host, so they apply to every cloud
// (management.azure.com, management.usgovcloudapi.net, ...) and behind a
// private endpoint or test server; the Blob and Data Lake ones apply to
// *.blob.core.* and *.dfs.core.*. Each S3 pattern comes twice: path-style
// (/BUCKET, /BUCKET/KEY) for every host but the virtual-hosted AWS
// endpoints, and virtual-hosted style (/, /KEY) for those, which match
// *.s3*.amazonaws.com* (BUCKET.s3.REGION.amazonaws.com, s3-accelerate,
// dualstack, FIPS, Express One Zone, .amazonaws.com.cn). S3-compatible
// stores (MinIO, R2, Ceph) get the path-style patterns; one that puts the
// bucket in the host needs patterns of its own. The S3 Control API
// (ACCOUNT.s3-control.REGION.amazonaws.com) is not an S3 bucket endpoint
// and should not use the s3 set.
//
// # Built-in patterns
//
// Builtin returns these sets. Each entry gives a pattern's name and
// description, then its method, path, query and host conditions and its
// class; several patterns can share a name. A DELETE is write|destructive
// whether or not a pattern names it.
//
// anthropic:
//
//	anthropic.messages: asks the model for a response, which changes no stored state
//	    POST /v1/messages → read
//	anthropic.count_tokens: counts the tokens of a message, which changes no stored state
//	    POST /v1/messages/count_tokens → read
//	anthropic.admin: changes the organization's members, invites or API keys (Admin API)
//	    POST|PUT|PATCH|DELETE /v1/organizations/users/** → write|privileged
//	    POST|PUT|PATCH|DELETE /v1/organizations/invites/** → write|privileged
//	    POST|PUT|PATCH|DELETE /v1/organizations/api_keys/** → write|privileged
//	    POST|PUT|PATCH|DELETE /v1/organizations/workspaces/*/members/** → write|privileged
//
// azure:
//
//	azure.delete_resource_group: deletes an Azure resource group and every resource in it
//	    DELETE /subscriptions/*/resourceGroups/* → write|destructive
//	azure.delete_storage_account: deletes an Azure storage account and all its data
//	    DELETE /subscriptions/*/resourceGroups/*/providers/Microsoft.Storage/storageAccounts/* → write|destructive
//	azure.delete_blob_container: deletes a blob container and every blob in it
//	    DELETE /subscriptions/*/resourceGroups/*/providers/Microsoft.Storage/storageAccounts/*/blobServices/default/containers/* → write|destructive
//	azure.delete_resource: deletes an Azure resource
//	    DELETE /subscriptions/*/** → write|destructive
//	    DELETE /providers/** → write|destructive
//	azure.delete_lock: removes a management lock that protects resources from deletion or change
//	    DELETE /**/providers/Microsoft.Authorization/locks/* → write|destructive|privileged
//	azure.authorization: changes a role assignment or role definition, that is who may do what
//	    POST|PUT|PATCH|DELETE /**/providers/Microsoft.Authorization/roleAssignments/* → write|privileged
//	    POST|PUT|PATCH|DELETE /**/providers/Microsoft.Authorization/roleDefinitions/* → write|privileged
//	azure.elevate_access: makes a Global Administrator User Access Administrator over every subscription
//	    POST /providers/Microsoft.Authorization/elevateAccess → write|privileged
//	azure.regenerate_key: regenerates an access key; clients using the old key stop working
//	    POST /subscriptions/**/regenerateKey → write|destructive|privileged
//	    POST /subscriptions/**/regenerateKeys → write|destructive|privileged
//	azure.list_keys: reads access keys or credentials that grant full access to a resource
//	    POST /subscriptions/**/listKeys → read|privileged
//	    POST /subscriptions/**/listAccountSas → read|privileged
//	    POST /subscriptions/**/listServiceSas → read|privileged
//	    POST /subscriptions/**/listConnectionStrings → read|privileged
//	    POST /subscriptions/**/listCredentials → read|privileged
//	    POST /subscriptions/**/listClusterAdminCredential → read|privileged
//	    POST /subscriptions/**/listClusterUserCredential → read|privileged
//	azure.run_command: runs a script inside a virtual machine or AKS cluster
//	    POST /subscriptions/**/runCommand → privileged
//	azure.purge: permanently deletes soft-deleted resources or logged data
//	    POST /subscriptions/**/purge → write|destructive
//	azure.cancel_subscription: cancels an Azure subscription
//	    POST /subscriptions/*/providers/Microsoft.Subscription/cancel → write|destructive
//	azure.deployment: deploys a template, which can create, change or (in complete mode) delete any resource in its scope
//	    PUT /**/providers/Microsoft.Resources/deployments/* → write|unknown
//	    PUT /**/providers/Microsoft.Resources/deploymentStacks/* → write|unknown
//	azure.batch: runs a batch of ARM requests that sluice does not see
//	    POST /batch → unknown
//	azure.resource_graph_query: runs an Azure Resource Graph query, which changes nothing
//	    POST /providers/Microsoft.ResourceGraph/resources → read
//	azure.blob_delete_container: deletes a blob container and every blob in it
//	    DELETE /*?restype=container on *.blob.core.* → write|destructive
//	azure.blob_delete_blob: deletes a blob
//	    DELETE /*/*/** on *.blob.core.* → write|destructive
//	azure.blob_batch: deletes blobs or changes their tier in one batch request
//	    POST /**?comp=batch on *.blob.core.* → write|destructive
//	azure.dfs_delete_filesystem: deletes a Data Lake file system and every file in it
//	    DELETE /*?resource=filesystem on *.dfs.core.* → write|destructive
//	azure.dfs_delete_path: deletes a Data Lake file or directory
//	    DELETE /*/*/** on *.dfs.core.* → write|destructive
//
// kubernetes:
//
//	kubernetes.delete: deletes a Kubernetes object
//	    DELETE /api/** → write|destructive
//	    DELETE /apis/** → write|destructive
//	kubernetes.delete_collection: deletes every object of a kind in a namespace or cluster
//	    DELETE /api/v1/* → write|destructive
//	    DELETE /api/v1/namespaces/*/* → write|destructive
//	    DELETE /apis/*/*/* → write|destructive
//	    DELETE /apis/*/*/namespaces/*/* → write|destructive
//	kubernetes.delete_namespace: deletes a namespace and every object in it
//	    DELETE /api/v1/namespaces/* → write|destructive
//	kubernetes.exec: runs a command in a container
//	    GET|POST /api/v1/namespaces/*/pods/*/exec → privileged
//	kubernetes.attach: attaches to the console of a running container
//	    GET|POST /api/v1/namespaces/*/pods/*/attach → privileged
//	kubernetes.portforward: forwards a port into a pod
//	    GET|POST /api/v1/namespaces/*/pods/*/portforward → privileged
//	kubernetes.proxy: proxies a request to a pod, service or node (a node's kubelet runs commands in containers)
//	    any method /api/v1/namespaces/*/pods/*/proxy/** → privileged
//	    any method /api/v1/namespaces/*/services/*/proxy/** → privileged
//	    any method /api/v1/nodes/*/proxy/** → privileged
//	kubernetes.ephemeral_container: adds a debug container to a running pod
//	    PUT|PATCH /api/v1/namespaces/*/pods/*/ephemeralcontainers → write|privileged
//	kubernetes.eviction: evicts a pod, which deletes it
//	    POST /api/v1/namespaces/*/pods/*/eviction → write|destructive
//	kubernetes.rbac: changes roles or role bindings, that is who may do what
//	    POST|PUT|PATCH|DELETE /apis/rbac.authorization.k8s.io/** → write|privileged
//	kubernetes.token: mints a token for a service account
//	    POST /api/v1/namespaces/*/serviceaccounts/*/token → privileged
//	kubernetes.csr_approval: approves or denies a certificate signing request
//	    PUT|PATCH /apis/certificates.k8s.io/*/certificatesigningrequests/*/approval → write|privileged
//
// s3:
//
//	s3.delete_bucket: deletes an S3 bucket
//	    DELETE /*?!analytics&!cors&!encryption&!intelligent-tiering&!inventory&!lifecycle&!metadataConfiguration&!metadataTable&!metrics&!ownershipControls&!policy&!publicAccessBlock&!replication&!tagging&!website on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?!analytics&!cors&!encryption&!intelligent-tiering&!inventory&!lifecycle&!metadataConfiguration&!metadataTable&!metrics&!ownershipControls&!policy&!publicAccessBlock&!replication&!tagging&!website on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_analytics: deletes an analytics configuration of the bucket
//	    DELETE /*?analytics on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?analytics on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_cors: deletes the bucket's CORS configuration
//	    DELETE /*?cors on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?cors on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_encryption: deletes the bucket's default encryption configuration
//	    DELETE /*?encryption on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?encryption on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_intelligent_tiering: deletes an Intelligent-Tiering configuration of the bucket
//	    DELETE /*?intelligent-tiering on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?intelligent-tiering on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_inventory: deletes an inventory configuration of the bucket
//	    DELETE /*?inventory on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?inventory on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_lifecycle: deletes the bucket's lifecycle configuration
//	    DELETE /*?lifecycle on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?lifecycle on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_metadata_configuration: deletes the bucket's metadata configuration
//	    DELETE /*?metadataConfiguration on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?metadataConfiguration on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_metadata_table: deletes the bucket's metadata table configuration
//	    DELETE /*?metadataTable on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?metadataTable on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_metrics: deletes a metrics configuration of the bucket
//	    DELETE /*?metrics on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?metrics on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_ownership_controls: deletes the bucket's Object Ownership setting, which re-enables ACLs
//	    DELETE /*?ownershipControls on hosts but *.s3*.amazonaws.com* → write|destructive|privileged
//	    DELETE /?ownershipControls on *.s3*.amazonaws.com* → write|destructive|privileged
//	s3.delete_bucket_policy: deletes the bucket policy, which says who may access the bucket
//	    DELETE /*?policy on hosts but *.s3*.amazonaws.com* → write|destructive|privileged
//	    DELETE /?policy on *.s3*.amazonaws.com* → write|destructive|privileged
//	s3.delete_bucket_public_access_block: deletes the bucket's public access block, which keeps the bucket from being made public
//	    DELETE /*?publicAccessBlock on hosts but *.s3*.amazonaws.com* → write|destructive|privileged
//	    DELETE /?publicAccessBlock on *.s3*.amazonaws.com* → write|destructive|privileged
//	s3.delete_bucket_replication: deletes the bucket's replication configuration
//	    DELETE /*?replication on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?replication on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_tagging: deletes the bucket's tags
//	    DELETE /*?tagging on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?tagging on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_bucket_website: deletes the bucket's website configuration
//	    DELETE /*?website on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /?website on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_objects: deletes up to 1000 objects in one request
//	    POST /*?delete on hosts but *.s3*.amazonaws.com* → write|destructive
//	    POST /?delete on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_object: deletes an object or one version of it
//	    DELETE /*/*/**?!tagging&!uploadId on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /*/**?!tagging&!uploadId on *.s3*.amazonaws.com* → write|destructive
//	s3.delete_object_tagging: deletes an object's tags
//	    DELETE /*/*/**?tagging on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /*/**?tagging on *.s3*.amazonaws.com* → write|destructive
//	s3.abort_multipart_upload: aborts a multipart upload and discards its parts
//	    DELETE /*/*/**?uploadId on hosts but *.s3*.amazonaws.com* → write|destructive
//	    DELETE /*/**?uploadId on *.s3*.amazonaws.com* → write|destructive
//	s3.put_bucket_policy: replaces the bucket policy, which says who may access the bucket
//	    PUT /*?policy on hosts but *.s3*.amazonaws.com* → write|privileged
//	    PUT /?policy on *.s3*.amazonaws.com* → write|privileged
//	s3.put_public_access_block: changes the public access block, which keeps the bucket from being made public
//	    PUT /*?publicAccessBlock on hosts but *.s3*.amazonaws.com* → write|privileged
//	    PUT /?publicAccessBlock on *.s3*.amazonaws.com* → write|privileged
//	s3.put_acl: changes an access control list
//	    PUT /*?acl on hosts but *.s3*.amazonaws.com* → write|privileged
//	    PUT /*/*/**?acl on hosts but *.s3*.amazonaws.com* → write|privileged
//	    PUT /?acl on *.s3*.amazonaws.com* → write|privileged
//	    PUT /*/**?acl on *.s3*.amazonaws.com* → write|privileged
//	s3.put_bucket_lifecycle: sets lifecycle rules, which can expire (delete) objects
//	    PUT /*?lifecycle on hosts but *.s3*.amazonaws.com* → write|destructive
//	    PUT /?lifecycle on *.s3*.amazonaws.com* → write|destructive
//	s3.select_object_content: runs an S3 Select query on an object, which changes nothing
//	    POST /*/*/**?select on hosts but *.s3*.amazonaws.com* → read
//	    POST /*/**?select on *.s3*.amazonaws.com* → read
package httpclass
