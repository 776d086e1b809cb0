using MoePlan.Core.Compilation;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;
using MoePlan.Core.Verification;

namespace MoePlan.Core.Search;

/// <summary>A base plan the search starts from, and the variation of the written plan it is when that one does not check.</summary>
/// <param name="Compiled">The compiled base (clean).</param>
/// <param name="Resolver">Reads the base's text in place of the written plan's (winners are written from it).</param>
/// <param name="Variation">The settings that differ from the written plan, as <c>name value</c>; empty when the written plan checks.</param>
public sealed record SearchStart(CompilationResult Compiled, ISourceResolver Resolver, IReadOnlyList<string> Variation);

/// <summary>
/// A user who writes a plan that does not fit (too large a batch, an EP that does not divide) and asks the search to vary
/// exactly those settings should get the search, not the error: when the written plan binds but the verifier, placement
/// or cost stages reject it, the search starts from the first candidate of its space (in the space's fixed order) that
/// checks clean, found by the verifier first and confirmed by a whole compilation.
/// </summary>
public static class SearchStartFinder
{
    /// <summary>Candidates tried before giving up: enough for every small space, bounded for huge ones.</summary>
    public const int MaxCandidatesTried = 100_000;

    /// <summary>Compilations (placement and cost included) tried on candidates the verifier accepts.</summary>
    public const int MaxCompilations = 16;

    /// <remarks>The start must fit the plan's own cluster; <c>--devices</c> then caps the search as usual.</remarks>
    /// <returns>The start, or null when the written plan does not bind, no dimension varies, or no candidate checks.</returns>
    public static SearchStart? FirstCheckingVariation(CompilationResult written, string text, ISourceResolver resolver, IReadOnlyList<DimensionValues> vary)
    {
        if (written.Bound is not { } bound || written.Syntax is not { } syntax
            || written.Diagnostics.Any(d => d.IsError && (d.Code.StartsWith("MP1", StringComparison.Ordinal) || d.Code.StartsWith("MP2", StringComparison.Ordinal))))
        {
            return null;
        }

        var dimensions = SearchSpace.WithOverrides(bound.Sweep, vary);
        if (dimensions.Count == 0 || SearchSpace.Create(bound, dimensions, null, out _) is not { } space)
        {
            return null;
        }

        var writtenSettings = CandidateSettings.Of(bound);
        var tried = 0;
        var compilations = 0;
        foreach (var candidate in space)
        {
            if (++tried > MaxCandidatesTried || compilations >= MaxCompilations)
            {
                break;
            }

            var settings = SearchSpace.Resolve(candidate);
            if (PlanVerifier.Verify(space.PlanOf(settings)).Any(d => d.IsError))
            {
                continue;
            }

            compilations++;
            var variationText = PlanTextWriter.Write(text, syntax, writtenSettings, settings);
            var compiled = PlanCompiler.CompileText(written.Path, variationText, resolver);
            if (!compiled.HasErrors)
            {
                var changed = dimensions.Select(d => d.Dimension).Distinct()
                    .Where(d => settings.Get(d) != writtenSettings.Get(d))
                    .Select(d => $"{SweepDimensions.Names.First(n => n.Value == d).Key} {Value(d, settings)}")
                    .ToList();
                return new SearchStart(compiled, new ReplacedTextResolver(resolver, written.Path, variationText), changed);
            }
        }

        return null;
    }

    private static string Value(SearchDimension d, CandidateSettings s) => d switch
    {
        SearchDimension.DecodeMtp or SearchDimension.PrefillOverlap or SearchDimension.DecodeOverlap => s.Get(d) == 1 ? "on" : "off",
        SearchDimension.ProxyMode => s.ProxyParallel ? "parallel" : "sequential",
        SearchDimension.ProxyPolicy => s.ProxyPolicyName,
        _ => s.Get(d).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Reads one file's text from memory, everything else through the inner resolver.</summary>
    private sealed class ReplacedTextResolver(ISourceResolver inner, string path, string text) : ISourceResolver
    {
        public string Resolve(string fromFile, string relative) => inner.Resolve(fromFile, relative);

        public bool TryRead(string resolvedPath, out string read, out string error)
        {
            if (string.Equals(resolvedPath, path, StringComparison.Ordinal))
            {
                (read, error) = (text, "");
                return true;
            }

            return inner.TryRead(resolvedPath, out read, out error);
        }
    }
}
