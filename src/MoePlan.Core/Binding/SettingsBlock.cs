using System.Collections.Immutable;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>
/// The settings of one block, indexed by name after reporting unknown names (with "did you mean") and
/// duplicates. The binder asks it for each setting it knows; what it never asks for was unknown.
/// </summary>
public sealed class SettingsBlock
{
    private readonly Dictionary<string, SettingSyntax> _settings = new(StringComparer.Ordinal);

    public SettingsBlock(string kind, BlockSyntax block, string file, ICollection<Diagnostic> diagnostics)
    {
        Kind = kind;
        Span = block.Range.In(file);
        var known = LanguageSchema.SettingNames(kind);
        var takingBlocks = LanguageSchema.Blocks[kind].Where(s => s.ChildBlock is not null).Select(s => s.Name).ToList();
        foreach (var written in block.Settings)
        {
            var setting = written;
            var name = setting.Name.Name;

            // `instances 1 paralel { dp 8 }`: a misspelt block setting written on the line of another setting reads as one
            // setting with an extra word and a block. Report the misspelt word, and keep the setting before it.
            if (known.Contains(name) && setting.Block is not null && LanguageSchema.ChildBlockKind(kind, name) == LanguageSchema.Unknown
                && setting.Arguments.Length > 1 && setting.Arguments[^1] is IdentifierSyntax word && !known.Contains(word.Name)
                && Suggestions.Closest(word.Name, takingBlocks) is { } meant)
            {
                diagnostics.Add(DiagnosticCodes.UnknownSetting.CreateWithHint(word.Range.In(file), $"`{meant}` starts a setting of its own: put it on its own line",
                        word.Name, kind, $"; did you mean `{meant}`?")
                    .WithFix($"Put `{meant}` on its own line", new TextEdit(OwnLine(setting.Arguments[^2].Range, word.Range).In(file), "\n" + new string(' ', setting.Name.Range.Column - 1) + meant)));
                setting = setting with { Arguments = setting.Arguments[..^1], Block = null };
            }

            if (!known.Contains(name))
            {
                diagnostics.Add(DiagnosticCodes.UnknownSetting.Create(
                    setting.Name.Range.In(file), name, kind, Suggestions.DidYouMean(name, known))
                    .WithReplacement(setting.Name.Range.In(file), Suggestions.Closest(name, known)));
                continue;
            }

            if (_settings.TryGetValue(name, out var first))
            {
                diagnostics.Add(DiagnosticCodes.DuplicateSetting.Create(setting.Name.Range.In(file), name, kind, first.Name.Range.Line));
                continue;
            }

            _settings.Add(name, setting);
        }
    }

    /// <summary>The text from the end of <paramref name="before"/> to the end of <paramref name="word"/>: the gap and the word a fix replaces.</summary>
    private static TextRange OwnLine(TextRange before, TextRange word) =>
        new(before.End, word.End - before.End, before.Line, before.Column + before.Length);

    public string Kind { get; }

    public SourceSpan Span { get; }

    public SettingSyntax? this[string name] => _settings.GetValueOrDefault(name);

    public ImmutableArray<string> Present => [.. _settings.Keys.Order(StringComparer.Ordinal)];
}
