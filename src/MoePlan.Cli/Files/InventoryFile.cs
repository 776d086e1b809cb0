using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Inventory;
using MoePlan.Core.Text;
using MoePlan.Serving.Inputs;

namespace MoePlan.Cli.Files;

/// <summary>Reads <c>--inventory FILE</c> through the input-file guard (regular files only, byte cap) and parses it.</summary>
internal static class InventoryFile
{
    /// <summary>The inventory, or null with the diagnostics that say why (MP5400 when it cannot be read at all).</summary>
    public static (ClusterInventory? Inventory, ImmutableArray<Diagnostic> Diagnostics, bool Unreadable) Load(string path)
    {
        if (!InputFile.TryReadText(path, InventoryParser.MaxBytes, out var text, out var error))
        {
            return (null, [DiagnosticCodes.InventoryUnreadable.Create(new SourceSpan(path, 0, 0, 1, 1), error)], true);
        }

        var (inventory, diagnostics) = InventoryParser.Parse(path, text);
        return (inventory, diagnostics, false);
    }
}
