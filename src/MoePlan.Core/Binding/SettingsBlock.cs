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
        foreach (var setting in block.Settings)
        {
            var name = setting.Name.Name;
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

    public string Kind { get; }

    public SourceSpan Span { get; }

    public SettingSyntax? this[string name] => _settings.GetValueOrDefault(name);

    public ImmutableArray<string> Present => [.. _settings.Keys.Order(StringComparer.Ordinal)];
}
