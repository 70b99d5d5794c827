package httpclass

import (
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// Class shorthands for the built-in patterns.
const (
	destroys   = sluice.ClassWrite | sluice.ClassDestructive
	privileged = sluice.ClassPrivileged
)

// Method lists for the built-in patterns.
var (
	onDelete = []string{"DELETE"}
	onPost   = []string{"POST"}
	onPut    = []string{"PUT"}
	onChange = []string{"POST", "PUT", "PATCH", "DELETE"}
)

// Builtin returns a copy of the built-in pattern set with the given name:
// "anthropic", "azure", "kubernetes" or "s3" (see the package
// documentation).
func Builtin(set string) ([]Pattern, bool) {
	ps, ok := builtinSets[set]
	if !ok {
		return nil, false
	}
	out := slices.Clone(ps)
	for i := range out {
		out[i].Methods = slices.Clone(out[i].Methods)
	}
	return out, true
}

// BuiltinSets returns the names of the built-in pattern sets, sorted.
func BuiltinSets() []string {
	names := make([]string, 0, len(builtinSets))
	for name := range builtinSets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

var builtinSets = map[string][]Pattern{
	"anthropic":  describe(anthropicPatterns),
	"azure":      describe(azurePatterns),
	"kubernetes": describe(kubernetesPatterns),
	"s3":         describe(s3Patterns()),
}

// describe gives each pattern without a description that of the first
// pattern with its name, so that the tables state it once.
func describe(ps []Pattern) []Pattern {
	first := make(map[string]string)
	for i, p := range ps {
		if p.Description == "" {
			ps[i].Description = first[p.Name]
		} else if _, ok := first[p.Name]; !ok {
			first[p.Name] = p.Description
		}
	}
	return ps
}

// anthropicPatterns cover the Claude API (api.anthropic.com).
var anthropicPatterns = []Pattern{
	{Name: "anthropic.messages", Description: "asks the model for a response, which changes no stored state",
		Methods: onPost, Path: "/v1/messages", Class: sluice.ClassRead},
	{Name: "anthropic.count_tokens", Description: "counts the tokens of a message, which changes no stored state",
		Methods: onPost, Path: "/v1/messages/count_tokens", Class: sluice.ClassRead},
	{Name: "anthropic.admin", Description: "changes the organization's members, invites or API keys (Admin API)",
		Methods: onChange, Path: "/v1/organizations/users/**", Class: sluice.ClassWrite | privileged},
	{Name: "anthropic.admin", Methods: onChange, Path: "/v1/organizations/invites/**", Class: sluice.ClassWrite | privileged},
	{Name: "anthropic.admin", Methods: onChange, Path: "/v1/organizations/api_keys/**", Class: sluice.ClassWrite | privileged},
	{Name: "anthropic.admin", Methods: onChange, Path: "/v1/organizations/workspaces/*/members/**", Class: sluice.ClassWrite | privileged},
}

// azurePatterns cover Azure Resource Manager (management.azure.com and the
// sovereign clouds' management endpoints; ARM paths are case-insensitive)
// and the Blob and Data Lake data planes. The ARM patterns name no host, so
// that they also apply behind a private endpoint or a test server.
var azurePatterns = []Pattern{
	{Name: "azure.delete_resource_group", Description: "deletes an Azure resource group and every resource in it",
		Methods: onDelete, Path: "/subscriptions/*/resourceGroups/*", Class: destroys},
	{Name: "azure.delete_storage_account", Description: "deletes an Azure storage account and all its data",
		Methods: onDelete, Path: "/subscriptions/*/resourceGroups/*/providers/Microsoft.Storage/storageAccounts/*", Class: destroys},
	{Name: "azure.delete_blob_container", Description: "deletes a blob container and every blob in it",
		Methods: onDelete, Path: "/subscriptions/*/resourceGroups/*/providers/Microsoft.Storage/storageAccounts/*/blobServices/default/containers/*", Class: destroys},
	// A resource group is itself a resource, so its delete matches here
	// too; so do subscription-level deletes without /providers/ (tag names).
	{Name: "azure.delete_resource", Description: "deletes an Azure resource",
		Methods: onDelete, Path: "/subscriptions/*/**", Class: destroys},
	{Name: "azure.delete_resource", Methods: onDelete, Path: "/providers/**", Class: destroys},
	{Name: "azure.delete_lock", Description: "removes a management lock that protects resources from deletion or change",
		Methods: onDelete, Path: "/**/providers/Microsoft.Authorization/locks/*", Class: destroys | privileged},
	{Name: "azure.authorization", Description: "changes a role assignment or role definition, that is who may do what",
		Methods: onChange, Path: "/**/providers/Microsoft.Authorization/roleAssignments/*", Class: sluice.ClassWrite | privileged},
	{Name: "azure.authorization", Methods: onChange, Path: "/**/providers/Microsoft.Authorization/roleDefinitions/*", Class: sluice.ClassWrite | privileged},
	{Name: "azure.elevate_access", Description: "makes a Global Administrator User Access Administrator over every subscription",
		Methods: onPost, Path: "/providers/Microsoft.Authorization/elevateAccess", Class: sluice.ClassWrite | privileged},
	{Name: "azure.regenerate_key", Description: "regenerates an access key; clients using the old key stop working",
		Methods: onPost, Path: "/subscriptions/**/regenerateKey", Class: destroys | privileged},
	{Name: "azure.regenerate_key", Methods: onPost, Path: "/subscriptions/**/regenerateKeys", Class: destroys | privileged},
	{Name: "azure.list_keys", Description: "reads access keys or credentials that grant full access to a resource",
		Methods: onPost, Path: "/subscriptions/**/listKeys", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listAccountSas", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listServiceSas", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listConnectionStrings", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listCredentials", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listClusterAdminCredential", Class: sluice.ClassRead | privileged},
	{Name: "azure.list_keys", Methods: onPost, Path: "/subscriptions/**/listClusterUserCredential", Class: sluice.ClassRead | privileged},
	{Name: "azure.run_command", Description: "runs a script inside a virtual machine or AKS cluster",
		Methods: onPost, Path: "/subscriptions/**/runCommand", Class: privileged},
	{Name: "azure.purge", Description: "permanently deletes soft-deleted resources or logged data",
		Methods: onPost, Path: "/subscriptions/**/purge", Class: destroys},
	{Name: "azure.cancel_subscription", Description: "cancels an Azure subscription",
		Methods: onPost, Path: "/subscriptions/*/providers/Microsoft.Subscription/cancel", Class: destroys},
	{Name: "azure.deployment", Description: "deploys a template, which can create, change or (in complete mode) delete any resource in its scope",
		Methods: onPut, Path: "/**/providers/Microsoft.Resources/deployments/*", Class: sluice.ClassWrite | sluice.ClassUnknown},
	{Name: "azure.deployment", Methods: onPut, Path: "/**/providers/Microsoft.Resources/deploymentStacks/*", Class: sluice.ClassWrite | sluice.ClassUnknown},
	{Name: "azure.batch", Description: "runs a batch of ARM requests that sluice does not see",
		Methods: onPost, Path: "/batch", Class: sluice.ClassUnknown},
	{Name: "azure.resource_graph_query", Description: "runs an Azure Resource Graph query, which changes nothing",
		Methods: onPost, Path: "/providers/Microsoft.ResourceGraph/resources", Class: sluice.ClassRead},

	// Blob and Data Lake data planes, all clouds (blob.core.windows.net,
	// blob.core.usgovcloudapi.net, ...).
	{Name: "azure.blob_delete_container", Description: "deletes a blob container and every blob in it",
		Methods: onDelete, Path: "/*", Query: "restype=container", Host: azureBlobHost, Class: destroys},
	{Name: "azure.blob_delete_blob", Description: "deletes a blob",
		Methods: onDelete, Path: "/*/*/**", Host: azureBlobHost, Class: destroys},
	{Name: "azure.blob_batch", Description: "deletes blobs or changes their tier in one batch request",
		Methods: onPost, Path: "/**", Query: "comp=batch", Host: azureBlobHost, Class: destroys},
	{Name: "azure.dfs_delete_filesystem", Description: "deletes a Data Lake file system and every file in it",
		Methods: onDelete, Path: "/*", Query: "resource=filesystem", Host: azureDFSHost, Class: destroys},
	{Name: "azure.dfs_delete_path", Description: "deletes a Data Lake file or directory",
		Methods: onDelete, Path: "/*/*/**", Host: azureDFSHost, Class: destroys},
}

const (
	azureBlobHost = "*.blob.core.*"
	azureDFSHost  = "*.dfs.core.*"
)

// kubernetesPatterns cover the Kubernetes API server: /api/v1 for the core
// group, /apis/GROUP/VERSION for the others, namespaced objects under
// .../namespaces/NS/.
var kubernetesPatterns = []Pattern{
	{Name: "kubernetes.delete", Description: "deletes a Kubernetes object",
		Methods: onDelete, Path: "/api/**", Class: destroys},
	{Name: "kubernetes.delete", Methods: onDelete, Path: "/apis/**", Class: destroys},
	{Name: "kubernetes.delete_collection", Description: "deletes every object of a kind in a namespace or cluster",
		Methods: onDelete, Path: "/api/v1/*", Class: destroys},
	{Name: "kubernetes.delete_collection", Methods: onDelete, Path: "/api/v1/namespaces/*/*", Class: destroys},
	{Name: "kubernetes.delete_collection", Methods: onDelete, Path: "/apis/*/*/*", Class: destroys},
	{Name: "kubernetes.delete_collection", Methods: onDelete, Path: "/apis/*/*/namespaces/*/*", Class: destroys},
	{Name: "kubernetes.delete_namespace", Description: "deletes a namespace and every object in it",
		Methods: onDelete, Path: "/api/v1/namespaces/*", Class: destroys},
	{Name: "kubernetes.exec", Description: "runs a command in a container",
		Methods: []string{"GET", "POST"}, Path: "/api/v1/namespaces/*/pods/*/exec", Class: privileged},
	{Name: "kubernetes.attach", Description: "attaches to the console of a running container",
		Methods: []string{"GET", "POST"}, Path: "/api/v1/namespaces/*/pods/*/attach", Class: privileged},
	{Name: "kubernetes.portforward", Description: "forwards a port into a pod",
		Methods: []string{"GET", "POST"}, Path: "/api/v1/namespaces/*/pods/*/portforward", Class: privileged},
	{Name: "kubernetes.proxy", Description: "proxies a request to a pod, service or node (a node's kubelet runs commands in containers)",
		Path: "/api/v1/namespaces/*/pods/*/proxy/**", Class: privileged},
	{Name: "kubernetes.proxy", Path: "/api/v1/namespaces/*/services/*/proxy/**", Class: privileged},
	{Name: "kubernetes.proxy", Path: "/api/v1/nodes/*/proxy/**", Class: privileged},
	{Name: "kubernetes.ephemeral_container", Description: "adds a debug container to a running pod",
		Methods: []string{"PUT", "PATCH"}, Path: "/api/v1/namespaces/*/pods/*/ephemeralcontainers", Class: sluice.ClassWrite | privileged},
	{Name: "kubernetes.eviction", Description: "evicts a pod, which deletes it",
		Methods: onPost, Path: "/api/v1/namespaces/*/pods/*/eviction", Class: destroys},
	{Name: "kubernetes.rbac", Description: "changes roles or role bindings, that is who may do what",
		Methods: onChange, Path: "/apis/rbac.authorization.k8s.io/**", Class: sluice.ClassWrite | privileged},
	{Name: "kubernetes.token", Description: "mints a token for a service account",
		Methods: onPost, Path: "/api/v1/namespaces/*/serviceaccounts/*/token", Class: privileged},
	{Name: "kubernetes.csr_approval", Description: "approves or denies a certificate signing request",
		Methods: []string{"PUT", "PATCH"}, Path: "/apis/certificates.k8s.io/*/certificatesigningrequests/*/approval", Class: sluice.ClassWrite | privileged},
}

// s3VirtualHost matches the endpoints of virtual-hosted-style S3, where the
// bucket is the first label of the host: BUCKET.s3.amazonaws.com,
// BUCKET.s3.REGION.amazonaws.com, BUCKET.s3-REGION.amazonaws.com,
// BUCKET.s3.dualstack.REGION.amazonaws.com, the FIPS, accelerate and
// Express One Zone endpoints, and the .amazonaws.com.cn ones. Path-style
// endpoints (s3.REGION.amazonaws.com) and S3-compatible stores (MinIO, R2,
// Ceph) do not match it; the path-style patterns apply to them.
const s3VirtualHost = "*.s3*.amazonaws.com*"

// s3BucketConfig is a bucket subresource that DELETE /BUCKET?QUERY removes;
// what names it after "deletes".
type s3BucketConfig struct {
	query, name, what string
	class             sluice.Class // besides write|destructive
}

var s3BucketConfigs = []s3BucketConfig{
	{"analytics", "analytics", "an analytics configuration of the bucket", 0},
	{"cors", "cors", "the bucket's CORS configuration", 0},
	{"encryption", "encryption", "the bucket's default encryption configuration", 0},
	{"intelligent-tiering", "intelligent_tiering", "an Intelligent-Tiering configuration of the bucket", 0},
	{"inventory", "inventory", "an inventory configuration of the bucket", 0},
	{"lifecycle", "lifecycle", "the bucket's lifecycle configuration", 0},
	{"metadataConfiguration", "metadata_configuration", "the bucket's metadata configuration", 0},
	{"metadataTable", "metadata_table", "the bucket's metadata table configuration", 0},
	{"metrics", "metrics", "a metrics configuration of the bucket", 0},
	{"ownershipControls", "ownership_controls", "the bucket's Object Ownership setting, which re-enables ACLs", privileged},
	{"policy", "policy", "the bucket policy, which says who may access the bucket", privileged},
	{"publicAccessBlock", "public_access_block", "the bucket's public access block, which keeps the bucket from being made public", privileged},
	{"replication", "replication", "the bucket's replication configuration", 0},
	{"tagging", "tagging", "the bucket's tags", 0},
	{"website", "website", "the bucket's website configuration", 0},
}

// s3Patterns builds the S3 patterns twice: path-style (/BUCKET/KEY, any
// host but a virtual-hosted AWS one) and virtual-hosted-style (/KEY on
// BUCKET.s3...amazonaws.com).
func s3Patterns() []Pattern {
	// noConfig holds when the query names no bucket subresource; S3
	// ignores other parameters, so DELETE /BUCKET?x=1 deletes the bucket.
	var b strings.Builder
	for i, c := range s3BucketConfigs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString("!" + c.query)
	}
	noConfig := b.String()

	styles := []struct{ bucket, object, host string }{
		{"/*", "/*/*/**", "!" + s3VirtualHost},
		{"/", "/*/**", s3VirtualHost},
	}
	var ps []Pattern
	for _, st := range styles {
		ps = append(ps, Pattern{Name: "s3.delete_bucket", Description: "deletes an S3 bucket",
			Methods: onDelete, Path: st.bucket, Query: noConfig, Host: st.host, Class: destroys})
		for _, c := range s3BucketConfigs {
			ps = append(ps, Pattern{Name: "s3.delete_bucket_" + c.name, Description: "deletes " + c.what,
				Methods: onDelete, Path: st.bucket, Query: c.query, Host: st.host, Class: destroys | c.class})
		}
		ps = append(ps,
			Pattern{Name: "s3.delete_objects", Description: "deletes up to 1000 objects in one request",
				Methods: onPost, Path: st.bucket, Query: "delete", Host: st.host, Class: destroys},
			Pattern{Name: "s3.delete_object", Description: "deletes an object or one version of it",
				Methods: onDelete, Path: st.object, Query: "!tagging&!uploadId", Host: st.host, Class: destroys},
			Pattern{Name: "s3.delete_object_tagging", Description: "deletes an object's tags",
				Methods: onDelete, Path: st.object, Query: "tagging", Host: st.host, Class: destroys},
			Pattern{Name: "s3.abort_multipart_upload", Description: "aborts a multipart upload and discards its parts",
				Methods: onDelete, Path: st.object, Query: "uploadId", Host: st.host, Class: destroys},
			Pattern{Name: "s3.put_bucket_policy", Description: "replaces the bucket policy, which says who may access the bucket",
				Methods: onPut, Path: st.bucket, Query: "policy", Host: st.host, Class: sluice.ClassWrite | privileged},
			Pattern{Name: "s3.put_public_access_block", Description: "changes the public access block, which keeps the bucket from being made public",
				Methods: onPut, Path: st.bucket, Query: "publicAccessBlock", Host: st.host, Class: sluice.ClassWrite | privileged},
			Pattern{Name: "s3.put_acl", Description: "changes an access control list",
				Methods: onPut, Path: st.bucket, Query: "acl", Host: st.host, Class: sluice.ClassWrite | privileged},
			Pattern{Name: "s3.put_acl", Methods: onPut, Path: st.object, Query: "acl", Host: st.host, Class: sluice.ClassWrite | privileged},
			Pattern{Name: "s3.put_bucket_lifecycle", Description: "sets lifecycle rules, which can expire (delete) objects",
				Methods: onPut, Path: st.bucket, Query: "lifecycle", Host: st.host, Class: destroys},
			Pattern{Name: "s3.select_object_content", Description: "runs an S3 Select query on an object, which changes nothing",
				Methods: onPost, Path: st.object, Query: "select", Host: st.host, Class: sluice.ClassRead},
		)
	}
	return ps
}
