using System.Security.Cryptography;
using System.Text;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>The approved-snapshot form: large expert maps shortened to a hash line, yet no byte of the bundle escapes the test.</summary>
public sealed class BundleSnapshotTests
{
    // 200 devices of 24 experts: about 20 KB, well over the shortening threshold.
    private static readonly string Map = "{\n  \"layers\": 2,\n  \"map\": [\n"
        + string.Join(",\n", Enumerable.Range(0, 200).Select(d => "    [" + string.Join(", ", Enumerable.Range(d, 24)) + "]"))
        + "\n  ]\n}\n";

    private static string ConfigMap(string indent) =>
        "# comment\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-plan\ndata:\n  map.json: |\n"
        + string.Concat(Map.TrimEnd('\n').Split('\n').Select(l => indent + l + "\n"))
        + "  small.txt: |\n    hello\n";

    private static string Snapshot(string configMap, string map)
    {
        var folder = CliRunner.TempFolder();
        try
        {
            Directory.CreateDirectory(Path.Combine(folder, "kubernetes"));
            Directory.CreateDirectory(Path.Combine(folder, "placement"));
            File.WriteAllText(Path.Combine(folder, "kubernetes", "configmap.yaml"), configMap);
            File.WriteAllText(Path.Combine(folder, "placement", "map.json"), map);
            File.WriteAllText(Path.Combine(folder, "report.md"), "# Report\nsmall files stay verbatim\n");
            return BundleFiles.Snapshot(folder);
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    private static string Sha256(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Large_maps_become_one_line_with_the_hash_of_their_bytes()
    {
        var configMap = ConfigMap("    ");
        var snapshot = Snapshot(configMap, Map);

        Assert.DoesNotContain("[0, 1, 2, 3", snapshot, StringComparison.Ordinal);
        Assert.Contains($"=== placement/map.json ===\n[shortened: {Encoding.UTF8.GetByteCount(Map)} bytes, 205 lines, sha256 {Sha256(Map)}; JSON {{layers: 2, map: [200]}}]\n", snapshot, StringComparison.Ordinal);
        // The ConfigMap entry carries the same map, so the same hash; the file's own hash covers its layout.
        Assert.Contains($"  map.json: [shortened: {Encoding.UTF8.GetByteCount(Map)} bytes, 205 lines, sha256 {Sha256(Map)}; JSON {{layers: 2, map: [200]}}]\n  small.txt: |\n    hello\n", snapshot, StringComparison.Ordinal);
        Assert.Contains($"=== kubernetes/configmap.yaml (data entries over 4096 bytes shortened; whole file {Encoding.UTF8.GetByteCount(configMap)} bytes, ", snapshot, StringComparison.Ordinal);
        Assert.Contains($"sha256 {Sha256(configMap)}) ===\n# comment\napiVersion: v1\n", snapshot, StringComparison.Ordinal);
        Assert.Contains("=== report.md ===\n# Report\nsmall files stay verbatim\n", snapshot, StringComparison.Ordinal);
        Assert.True(snapshot.Split('\n').Max(l => l.Length) < 300);
    }

    [Fact]
    public void A_change_to_any_byte_of_a_shortened_part_changes_the_snapshot()
    {
        var original = Snapshot(ConfigMap("    "), Map);
        var editedMap = Map.Replace("[7, 8, 9", "[7, 8, 10", StringComparison.Ordinal);

        Assert.NotEqual(original, Snapshot(ConfigMap("    "), editedMap));
        // Same entry value, only the block's indentation differs: still a different file, so a different snapshot.
        Assert.NotEqual(original, Snapshot(ConfigMap("      "), Map));
        Assert.NotEqual(original, Snapshot(ConfigMap("    ").Replace("[7, 8, 9", "[7, 8, 10", StringComparison.Ordinal), Map));
    }
}
