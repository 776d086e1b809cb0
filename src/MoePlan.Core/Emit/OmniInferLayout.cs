namespace MoePlan.Core.Emit;

/// <summary>
/// Where the Omni-Infer target's per-pool files go. Omni-Infer's playbook reads each role's model config from a fixed
/// path in the Omni-Infer checkout (<c>$CODE_PATH/omniinfer/tests/test_config/test_config_prefill.json</c>, <c>..._decode.json</c>)
/// and starts the servers in <c>tools/scripts</c> of that checkout, so the bundle carries its files under
/// <c>omni-infer/omniinfer/</c>, to be copied over the checkout, and the paths inside them are relative to
/// <c>tools/scripts</c>, as upstream's own test configs are.
/// </summary>
public static class OmniInferLayout
{
    /// <summary>The bundle folder that mirrors the Omni-Infer checkout (<c>$CODE_PATH/omniinfer</c>).</summary>
    public const string Checkout = "omni-infer/omniinfer";

    private const string ConfigFolder = "tests/test_config";

    /// <summary>From the servers' working directory (tools/scripts) back to the checkout.</summary>
    private const string FromWorkingDirectory = "../../";

    public static BundleOmniInferFiles For(string role)
    {
        ArgumentNullException.ThrowIfNull(role);
        var placement = $"{ConfigFolder}/moeplan_omni_placement_{role}.yaml";
        var pattern = $"{ConfigFolder}/moeplan_omni_placement_{role}.npy";
        return new BundleOmniInferFiles(
            $"{Checkout}/{ConfigFolder}/test_config_{role}.json",
            $"{Checkout}/{placement}",
            FromWorkingDirectory + placement,
            $"{Checkout}/{pattern}",
            FromWorkingDirectory + pattern);
    }
}

/// <summary>An Omni-Infer pool's files: bundle paths, and the paths the engine processes open (relative to tools/scripts).</summary>
/// <param name="ModelConfigFile">The model config JSON the playbook passes as MODEL_EXTRA_CFG_PATH.</param>
/// <param name="PlacementConfigFile">Omni Placement's YAML.</param>
/// <param name="PlacementConfigPath">The YAML as the model config names it (<c>omni_placement_config_path</c>).</param>
/// <param name="PatternFile">The placement pattern (.npy).</param>
/// <param name="PatternPath">The pattern as the YAML names it (<c>pattern_path</c>).</param>
public sealed record BundleOmniInferFiles(string ModelConfigFile, string PlacementConfigFile, string PlacementConfigPath, string PatternFile, string PatternPath);
