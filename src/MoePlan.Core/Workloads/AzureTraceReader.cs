using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Workloads;

/// <summary>
/// Streams an Azure LLM-inference trace (Azure/AzurePublicDataset): the header
/// <c>TIMESTAMP,ContextTokens,GeneratedTokens</c>, then rows like <c>2023-11-16 18:17:03.9799600,4808,10</c>;
/// CRLF or LF line ends, with or without a final line break. A timestamp may end in a UTC offset
/// (<c>2024-05-10 00:00:00.009930+00:00</c>); times are compared in UTC. Arrival times are milliseconds after the
/// first row. The trace carries no prompt contents, so no two requests share a prefix block.
/// </summary>
public static class AzureTraceReader
{
    public const string Header = "TIMESTAMP,ContextTokens,GeneratedTokens";

    private static readonly string[] TimestampFormats =
        ["yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd HH:mm:sszzz"];

    public static IEnumerable<ArrivingRequest> Read(TextReader reader, string file, ICollection<Diagnostic> all)
    {
        var diagnostics = new CappedDiagnostics(all);
        var header = reader.ReadLine();
        if (header is null)
        {
            diagnostics.Add(DiagnosticCodes.TraceEmpty.Create(new SourceSpan(file, 0, 0, 1, 1)));
            yield break;
        }

        if (header.Trim() != Header)
        {
            diagnostics.Add(DiagnosticCodes.TraceCsvHeader.Create(new SourceSpan(file, 0, header.Length, 1, 1), TextExcerpt.Of(header)));
            yield break;
        }

        int line = 1;
        long id = 0;
        long nextBlock = ArrivingRequest.GeneratedBlockIdBase;
        DateTime? first = null;
        double previous = double.NegativeInfinity;
        bool any = false;
        string? text;
        while ((text = reader.ReadLine()) is not null)
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            any = true;
            var span = new SourceSpan(file, 0, text.Length, line, 1);
            var fields = text.Split(',');
            if (fields.Length != 3)
            {
                diagnostics.Add(DiagnosticCodes.TraceCsvFieldCount.Create(span, fields.Length));
                continue;
            }

            // Without an offset a time is taken as UTC, so offset and plain rows compare alike.
            if (!DateTimeOffset.TryParseExact(fields[0].Trim(), TimestampFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                diagnostics.Add(DiagnosticCodes.TraceBadTimestamp.Create(span, TextExcerpt.Of(fields[0]), "a date and time like 2023-11-16 18:17:03.9799600"));
                continue;
            }

            if (!int.TryParse(fields[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var input) || input < 1)
            {
                diagnostics.Add(DiagnosticCodes.TraceBadLength.Create(span, "ContextTokens", TextExcerpt.Of(fields[1])));
                continue;
            }

            if (!int.TryParse(fields[2].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var output) || output < 1)
            {
                diagnostics.Add(DiagnosticCodes.TraceBadLength.Create(span, "GeneratedTokens", TextExcerpt.Of(fields[2])));
                continue;
            }

            var stamp = parsed.UtcDateTime;
            first ??= stamp;
            var time = (stamp - first.Value).TotalMilliseconds;
            if (time < previous)
            {
                diagnostics.Add(DiagnosticCodes.TraceTimestampOrder.Create(span, time.ToString(CultureInfo.InvariantCulture), previous.ToString(CultureInfo.InvariantCulture)));
                continue;
            }

            previous = time;
            yield return new ArrivingRequest(id++, time, input, output, ArrivingRequest.UniqueBlocks(input, ref nextBlock));
        }

        if (!any)
        {
            diagnostics.Add(DiagnosticCodes.TraceEmpty.Create(new SourceSpan(file, 0, 0, line, 1)));
        }

        diagnostics.Complete(new SourceSpan(file, 0, 0, line, 1));
    }
}
