using System.Globalization;
using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Text;

namespace MoePlan.Core.Workloads;

/// <summary>
/// Streams a Mooncake (FAST'25) JSONL trace: one object per line with <c>timestamp</c> (ms), <c>input_length</c>,
/// <c>output_length</c> and <c>hash_ids</c> (the prompt's 512-token blocks). Reads one line at a time; a
/// malformed row becomes a diagnostic with its line number and is skipped. Given a tokenizer, a row may carry the
/// prompt's text instead, <c>{"timestamp": ms, "prompt": "...", "output_length": N}</c>: the input length is its
/// token count and the blocks are the tokenizer's (<c>input_length</c> and <c>hash_ids</c> are then not read).
/// </summary>
public static class MooncakeTraceReader
{
    public static IEnumerable<ArrivingRequest> Read(TextReader reader, string file, ICollection<Diagnostic> all, IPromptBlocks? prompts = null)
    {
        var diagnostics = new CappedDiagnostics(all);
        int line = 0;
        long id = 0;
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
            var request = Parse(text, file, line, id, ref previous, diagnostics, prompts);
            if (request is not null)
            {
                id++;
                yield return request;
            }
        }

        if (!any)
        {
            diagnostics.Add(DiagnosticCodes.TraceEmpty.Create(new SourceSpan(file, 0, 0, 1, 1)));
        }

        diagnostics.Complete(new SourceSpan(file, 0, 0, Math.Max(line, 1), 1));
    }

    private static ArrivingRequest? Parse(string text, string file, int line, long id, ref double previous, ICollection<Diagnostic> diagnostics, IPromptBlocks? prompts)
    {
        var span = new SourceSpan(file, 0, text.Length, line, 1);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            diagnostics.Add(DiagnosticCodes.TraceJsonSyntax.Create(span, e.Message));
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                diagnostics.Add(DiagnosticCodes.TraceJsonSyntax.Create(span, $"found a JSON {root.ValueKind.ToString().ToLowerInvariant()}"));
                return null;
            }

            if (!root.TryGetProperty("timestamp", out var ts))
            {
                diagnostics.Add(DiagnosticCodes.TraceMissingField.Create(span, "timestamp", "arrival time in milliseconds"));
                return null;
            }

            if (ts.ValueKind != JsonValueKind.Number || !ts.TryGetDouble(out var time) || !double.IsFinite(time) || time < 0)
            {
                diagnostics.Add(DiagnosticCodes.TraceBadTimestamp.Create(span, TextExcerpt.Of(ts.GetRawText()), "a number of milliseconds, 0 or more"));
                return null;
            }

            if (prompts is not null && root.TryGetProperty("prompt", out var prompt))
            {
                return FromText(prompt, root, span, id, time, ref previous, diagnostics, prompts);
            }

            var input = Length(root, "input_length", span, diagnostics);
            var output = Length(root, "output_length", span, diagnostics);
            if (input is null || output is null)
            {
                return null;
            }

            if (!root.TryGetProperty("hash_ids", out var ids) || ids.ValueKind != JsonValueKind.Array)
            {
                diagnostics.Add(DiagnosticCodes.TraceMissingField.Create(span, "hash_ids", "an array of the prompt's 512-token block ids"));
                return null;
            }

            int needed = ArrivingRequest.BlocksFor(input.Value);
            if (ids.GetArrayLength() != needed)
            {
                diagnostics.Add(DiagnosticCodes.TraceHashIdsCount.Create(span, ids.GetArrayLength(), input.Value, needed));
                return null;
            }

            var blocks = new long[needed];
            int i = 0;
            foreach (var element in ids.EnumerateArray())
            {
                if (element.ValueKind != JsonValueKind.Number || !element.TryGetInt64(out var block) || block < 0)
                {
                    diagnostics.Add(DiagnosticCodes.TraceBadHashId.Create(span, TextExcerpt.Of(element.GetRawText())));
                    return null;
                }

                blocks[i++] = block;
            }

            return InOrder(span, time, ref previous, diagnostics) ? new ArrivingRequest(id, time, input.Value, output.Value, blocks) : null;
        }
    }

    private static ArrivingRequest? FromText(JsonElement prompt, JsonElement root, SourceSpan span, long id, double time, ref double previous, ICollection<Diagnostic> diagnostics, IPromptBlocks prompts)
    {
        if (prompt.ValueKind != JsonValueKind.String || prompt.GetString() is not { Length: > 0 } text)
        {
            diagnostics.Add(DiagnosticCodes.TraceBadPrompt.Create(span, prompt.ValueKind == JsonValueKind.String ? "empty" : $"a JSON {prompt.ValueKind.ToString().ToLowerInvariant()}"));
            return null;
        }

        if (Length(root, "output_length", span, diagnostics) is not { } output)
        {
            return null;
        }

        var tokenized = prompts.Of(text);
        return InOrder(span, time, ref previous, diagnostics) ? new ArrivingRequest(id, time, tokenized.Tokens, output, tokenized.Blocks) : null;
    }

    private static bool InOrder(SourceSpan span, double time, ref double previous, ICollection<Diagnostic> diagnostics)
    {
        if (time < previous)
        {
            diagnostics.Add(DiagnosticCodes.TraceTimestampOrder.Create(span, time.ToString(CultureInfo.InvariantCulture), previous.ToString(CultureInfo.InvariantCulture)));
            return false;
        }

        previous = time;
        return true;
    }

    private static int? Length(JsonElement root, string name, SourceSpan span, ICollection<Diagnostic> diagnostics)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            diagnostics.Add(DiagnosticCodes.TraceMissingField.Create(span, name, "a token count"));
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var tokens) || tokens < 1)
        {
            diagnostics.Add(DiagnosticCodes.TraceBadLength.Create(span, name, TextExcerpt.Of(value.GetRawText())));
            return null;
        }

        return tokens;
    }
}
