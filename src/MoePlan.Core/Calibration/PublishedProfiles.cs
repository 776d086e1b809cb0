using System.Text;

namespace MoePlan.Core.Calibration;

/// <summary>
/// The cross-validated profiles of the families whose factors were fitted here, embedded in the product: the published
/// cases' leave-one-out errors and indistinguishable factor sets state the intervals of a plan that names no profile of
/// its own. Written by <c>moeplan calibrate plans/calibration/published.yaml --cross-validate -o
/// src/MoePlan.Core/Calibration/Data/hopper.profile.yaml</c>; a test writes it again and compares.
/// </summary>
public static class PublishedProfiles
{
    public const string HopperResource = "MoePlan.Calibration.hopper.profile.yaml";

    private static readonly Lazy<CalibrationProfile> HopperProfile = new(() => Load(HopperResource));

    /// <summary>The published profile of <paramref name="family"/>; null for a family fitted on no published case.</summary>
    public static CalibrationProfile? For(string family) => family == "Hopper" ? HopperProfile.Value : null;

    private static CalibrationProfile Load(string resource)
    {
        using var stream = typeof(PublishedProfiles).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"embedded profile {resource} is missing from the build");
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var (profile, diagnostics) = CalibrationProfileReader.Parse(resource, Encoding.UTF8.GetString(buffer.GetBuffer(), 0, checked((int)buffer.Length)));
        // The file is the product's own: a broken one is a build defect the published-profile test catches, not user input.
        return profile ?? throw new InvalidOperationException(
            $"embedded profile {resource} does not read: {string.Join("; ", diagnostics.Where(d => d.IsError).Select(d => d.Message))}");
    }
}
