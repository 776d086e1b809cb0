namespace MoePlan.Core.Diagnostics;

/// <summary>MP5400..MP5419: inventory files (<c>--inventory</c>); MP3070..MP3079: the inventory against the plan.</summary>
public static partial class DiagnosticCodes
{
    /// <summary>{0} why the file cannot be read.</summary>
    public static readonly DiagnosticDescriptor InventoryUnreadable =
        new("MP5400", DiagnosticSeverity.Error, "Inventory cannot be read", "cannot read the inventory: {0}");

    /// <summary>{0} the YAML parser's message.</summary>
    public static readonly DiagnosticDescriptor InventorySyntax =
        new("MP5401", DiagnosticSeverity.Error, "Inventory is not valid YAML", "inventory YAML error: {0}");

    /// <summary>{0} where, {1} what was expected, {2} what was found.</summary>
    public static readonly DiagnosticDescriptor InventoryShape =
        new("MP5402", DiagnosticSeverity.Error, "Unexpected inventory structure", "{0} must be {1}, not {2}");

    /// <summary>{0} the key, {1} where, {2} the keys allowed there.</summary>
    public static readonly DiagnosticDescriptor InventoryUnknownKey =
        new("MP5403", DiagnosticSeverity.Error, "Unknown inventory key", "unknown key `{0}` in {1} (allowed: {2})");

    /// <summary>{0} the key, {1} where.</summary>
    public static readonly DiagnosticDescriptor InventoryMissingKey =
        new("MP5404", DiagnosticSeverity.Error, "Missing inventory key", "{1} has no `{0}`");

    /// <summary>{0} the host as written (escaped), {1} why.</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidHost =
        new("MP5405", DiagnosticSeverity.Error, "Invalid host name", "host \"{0}\" {1}: it becomes a host name in launch scripts and a file name, so it must be a DNS-1123 host name (lower-case letters, digits, '-' and '.', each label starting and ending with a letter or digit, at most 63 characters)");

    /// <summary>{0} the address as written (escaped).</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidAddress =
        new("MP5406", DiagnosticSeverity.Error, "Invalid IP address", "ip \"{0}\" is not an IPv4 address in dotted-quad form (a.b.c.d)");

    /// <summary>{0} the value as written (escaped).</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidDevices =
        new("MP5407", DiagnosticSeverity.Error, "Invalid device count", "devices \"{0}\" is not a whole number of accelerators between 1 and 1024");

    /// <summary>{0} the key (nics, ib_devices), {1} the name as written (escaped).</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidInterface =
        new("MP5408", DiagnosticSeverity.Error, "Invalid interface name", "{0} entry \"{1}\" is not a network interface or RDMA device name (letters, digits, '_', '-', '.' and ':', at most 32 characters)");

    /// <summary>{0} the key or value as written (escaped), {1} why.</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidLabel =
        new("MP5409", DiagnosticSeverity.Error, "Invalid label", "label \"{0}\" {1}: labels become Kubernetes node selectors, so keys and values follow Kubernetes label syntax");

    /// <summary>{0} the value as written (escaped).</summary>
    public static readonly DiagnosticDescriptor InventoryInvalidPool =
        new("MP5410", DiagnosticSeverity.Error, "Invalid pool", "pool \"{0}\" is neither prefill nor decode");

    public static readonly DiagnosticDescriptor InventoryNoNodes =
        new("MP5411", DiagnosticSeverity.Error, "Inventory lists no nodes", "the inventory's `nodes` list is empty");
}

public static partial class DiagnosticCodes
{
    /// <summary>{0} the pool, {1} the nodes the pool needs, {2} the layout's last node number, {3} nodes in the inventory.</summary>
    public static readonly DiagnosticDescriptor InventoryTooFewNodes =
        new("MP3070", DiagnosticSeverity.Error, "Inventory has too few nodes", "the {0} pool runs on {1} node(s), up to node {2} of the plan's layout, but the inventory lists {3} node(s)");

    /// <summary>{0} host, {1} its devices, {2} the plan's devices per node, {3} the hardware.</summary>
    public static readonly DiagnosticDescriptor InventoryDeviceMismatch =
        new("MP3071", DiagnosticSeverity.Error, "Node has a different device count", "node `{0}` has {1} device(s), the plan's cluster has {2} {3} per node");

    /// <summary>{0} the host, {1} the first node's line.</summary>
    public static readonly DiagnosticDescriptor InventoryDuplicateHost =
        new("MP3072", DiagnosticSeverity.Error, "Duplicate host", "host `{0}` is listed twice (first on line {1})");

    /// <summary>{0} the address, {1} the first node's host.</summary>
    public static readonly DiagnosticDescriptor InventoryDuplicateAddress =
        new("MP3073", DiagnosticSeverity.Error, "Duplicate IP address", "ip {0} is also node `{1}`'s");

    /// <summary>{0} host, {1} its pool label, {2} what the layout runs there.</summary>
    public static readonly DiagnosticDescriptor InventoryPoolMismatch =
        new("MP3074", DiagnosticSeverity.Error, "Node is in the other pool", "node `{0}` says `pool: {1}`, but the plan's layout runs {2} on it");

    /// <summary>{0} unused nodes, {1} nodes the plan uses.</summary>
    public static readonly DiagnosticDescriptor InventoryUnusedNodes =
        new("MP3075", DiagnosticSeverity.Warning, "Inventory has unused nodes", "the plan uses {1} node(s); the last {0} node(s) of the inventory get nothing to run");
}
