using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Placement;

/// <summary>One window of traffic: how long it lasts and the expert loads it routes (each layer normalised to total 1).</summary>
/// <param name="File">The load file as the windows file names it.</param>
public sealed record LoadWindow(double DurationMilliseconds, string File, ExpertLoads Loads);

/// <summary>The windows a plan's <c>loads_over_time</c> file lists, in order; the last one holds after the others end.</summary>
public sealed record LoadWindows(string Path, ImmutableArray<LoadWindow> Windows)
{
    /// <summary>One window that never ends: the loads of a plan without <c>loads_over_time</c>.</summary>
    public static LoadWindows Constant(string description, ExpertLoads loads) =>
        new(description, [new LoadWindow(double.PositiveInfinity, description, loads.Normalized())]);

    /// <summary>The index of the window in force at <paramref name="milliseconds"/> (the last one after they all end).</summary>
    public int IndexAt(double milliseconds)
    {
        double end = 0;
        for (int i = 0; i < Windows.Length - 1; i++)
        {
            end += Windows[i].DurationMilliseconds;
            if (milliseconds < end)
            {
                return i;
            }
        }

        return Windows.Length - 1;
    }

    /// <summary>When window <paramref name="index"/> starts.</summary>
    public double StartOf(int index)
    {
        double start = 0;
        for (int i = 0; i < index; i++)
        {
            start += Windows[i].DurationMilliseconds;
        }

        return start;
    }

    /// <summary>
    /// What an engine's statistics hold after recording from <paramref name="from"/> to <paramref name="to"/>: each
    /// window's (normalised) loads weighted by the time it was in force in that span. Equal token rates are assumed, so
    /// time stands for tokens.
    /// </summary>
    public ExpertLoads Recorded(double from, double to)
    {
        var first = Windows[0].Loads;
        var rows = new double[first.LayerCount][];
        for (int l = 0; l < rows.Length; l++)
        {
            rows[l] = new double[first.ExpertCount];
        }

        double start = 0;
        double weightSum = 0;
        for (int i = 0; i < Windows.Length; i++)
        {
            double end = i == Windows.Length - 1 ? double.PositiveInfinity : start + Windows[i].DurationMilliseconds;
            double overlap = Math.Min(end, to) - Math.Max(start, from);
            if (overlap > 0)
            {
                weightSum += overlap;
                var loads = Windows[i].Loads;
                for (int l = 0; l < rows.Length; l++)
                {
                    var row = loads.Layer(l);
                    for (int e = 0; e < row.Length; e++)
                    {
                        rows[l][e] += overlap * row[e];
                    }
                }
            }

            start = end;
        }

        if (weightSum <= 0)
        {
            return Windows[IndexAt(from)].Loads;
        }

        return ExpertLoads.Create(first.LayerIds, rows.Select(r => (IReadOnlyList<double>)r.Select(v => v / weightSum).ToArray()).ToList());
    }
}

/// <summary>
/// Reads a load windows file (docs/placement.md): one window per line, <c>DURATION FILE</c> (<c>90s data/a.json</c>,
/// <c>2min "data/b c.json"</c>): a positive duration with a unit (ms, s, min, h) and an expert-load file in any format
/// <c>place --load</c> reads, relative to the windows file. <c>#</c> starts a comment; blank lines are skipped. Every
/// problem is a diagnostic at the windows file's line and column (MP5701..MP5706); a load file's own problems keep their
/// locations in that file.
/// </summary>
public static partial class LoadWindowsReader
{
    /// <summary>
    /// The most windows a file may list: each one is a normalised load table (DeepSeek-V3: 58 x 256 doubles, 119 KB) held
    /// for the whole run. A bound, not an engine's figure.
    /// </summary>
    public const int MaxWindows = 1000;

    /// <summary>The plan's <c>loads_over_time</c> windows, resolved relative to the plan file; null with the diagnostics when any window does not read.</summary>
    public static (LoadWindows? Windows, ImmutableArray<Diagnostic> Diagnostics) Read(DeploymentPlan plan, ISourceResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(resolver);
        if (plan.Placement.LoadsOverTime is not { } setting)
        {
            return (null, []);
        }

        var path = resolver.Resolve(setting.Span.File, setting.Value);
        if (!resolver.TryRead(path, out var text, out var error))
        {
            return (null, [DiagnosticCodes.ImportNotFound.Create(setting.Span, path, error)]);
        }

        return Read(plan, resolver, path, text);
    }

    /// <summary>Reads windows file <paramref name="path"/> with contents <paramref name="text"/>.</summary>
    public static (LoadWindows? Windows, ImmutableArray<Diagnostic> Diagnostics) Read(DeploymentPlan plan, ISourceResolver resolver, string path, string text)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(resolver);
        ArgumentNullException.ThrowIfNull(text);
        var diagnostics = ImmutableArray.CreateBuilder<Diagnostic>();
        var windows = ImmutableArray.CreateBuilder<LoadWindow>();
        var cache = new Dictionary<string, ExpertLoads?>(StringComparer.Ordinal);
        var model = plan.Model.Entry.Name;
        int lineNumber = 0;
        int offset = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            int lineStart = offset;
            offset += rawLine.Length + 1;
            var line = rawLine.TrimEnd('\r');
            int hash = line.IndexOf('#', StringComparison.Ordinal);
            var content = hash >= 0 ? line[..hash] : line;
            if (string.IsNullOrWhiteSpace(content))
            {
                continue;
            }

            SourceSpan At(int column, int length) => new(path, lineStart + column, Math.Max(1, length), lineNumber, column + 1);
            int first = content.Length - content.TrimStart().Length;
            var match = WindowLine().Match(content);
            if (!match.Success)
            {
                diagnostics.Add(DiagnosticCodes.LoadWindowsLine.Create(At(first, content.Trim().Length), content.Trim()));
                continue;
            }

            if (windows.Count + 1 > MaxWindows)
            {
                diagnostics.Add(DiagnosticCodes.LoadWindowsTooMany.Create(At(first, content.Trim().Length), MaxWindows));
                break;
            }

            var durationGroup = match.Groups["duration"];
            var fileGroup = match.Groups["quoted"].Success ? match.Groups["quoted"] : match.Groups["bare"];
            int window = windows.Count + 1;
            var duration = ParseDuration(durationGroup.Value);
            if (duration is not { } ms)
            {
                diagnostics.Add(DiagnosticCodes.LoadWindowsDuration.Create(At(durationGroup.Index, durationGroup.Length), durationGroup.Value));
                continue;
            }

            var fileSpan = At(fileGroup.Index, fileGroup.Length);
            var loadPath = resolver.Resolve(path, fileGroup.Value);
            if (!cache.TryGetValue(loadPath, out var loads))
            {
                if (!resolver.TryRead(loadPath, out _, out var error))
                {
                    diagnostics.Add(DiagnosticCodes.LoadWindowsMissingFile.Create(fileSpan, window, fileGroup.Value, error));
                    cache[loadPath] = null;
                    continue;
                }

                var (read, _, readDiagnostics) = PlanPlacement.ReadFile(plan, resolver, loadPath, fileSpan);
                var errors = readDiagnostics.Where(d => d.IsError).ToList();
                if (read is null || errors.Count > 0)
                {
                    // Said at the window's line (which window, which file), then each problem where it is in the load file.
                    var first3 = string.Join("; ", errors.Take(3).Select(d => d.Message));
                    diagnostics.Add(DiagnosticCodes.LoadWindowsBadLoads.CreateWithHint(fileSpan,
                        $"every window needs {model}'s layers and routed experts, as the plan's `loads` file does", window, fileGroup.Value, model, first3));
                    diagnostics.AddRange(errors);
                    cache[loadPath] = null;
                    continue;
                }

                loads = read.Normalized();
                cache[loadPath] = loads;
            }

            if (loads is null)
            {
                // The same file failed on an earlier line: said once there.
                continue;
            }

            windows.Add(new LoadWindow(ms, fileGroup.Value, loads));
        }

        if (windows.Count == 0 && !diagnostics.Any(d => d.IsError))
        {
            diagnostics.Add(DiagnosticCodes.LoadWindowsEmpty.Create(new SourceSpan(path, 0, 0, 1, 1)));
        }

        return diagnostics.Any(d => d.IsError) ? (null, diagnostics.ToImmutable()) : (new LoadWindows(path, windows.ToImmutable()), diagnostics.ToImmutable());
    }

    /// <summary>A positive, finite duration in milliseconds, or null.</summary>
    internal static double? ParseDuration(string text)
    {
        var m = DurationText().Match(text);
        if (!m.Success || !double.TryParse(m.Groups["value"].Value, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value))
        {
            return null;
        }

        double scale = m.Groups["unit"].Value switch
        {
            "ms" => 1,
            "s" => 1e3,
            "min" => 60e3,
            _ => 3600e3,
        };
        double ms = value * scale;
        return ms > 0 && double.IsFinite(ms) ? ms : null;
    }

    [GeneratedRegex(@"^\s*(?<duration>\S+)\s+(?:""(?<quoted>[^""]+)""|(?<bare>[^\s""]+))\s*$")]
    private static partial Regex WindowLine();

    [GeneratedRegex(@"^(?<value>[-+]?[0-9]+(?:\.[0-9]+)?)(?<unit>ms|s|min|h)$")]
    private static partial Regex DurationText();
}
