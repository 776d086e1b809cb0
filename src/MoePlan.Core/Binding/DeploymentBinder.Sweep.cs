using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Syntax;
using MoePlan.Core.Text;

namespace MoePlan.Core.Binding;

/// <summary>The <c>sweep</c> block: what <c>moeplan search</c> varies (docs/search.md).</summary>
public sealed partial class DeploymentBinder
{
    private SweepPlan? BindSweep(SettingSyntax setting, ClusterPlan? cluster, PoolPlan? decode)
    {
        Read(setting, "`sweep { ... }`", allowBlock: true).End();
        if (ChildBlock(setting, "sweep", "`sweep { ... }`") is not { } block)
        {
            return null;
        }

        var failed = false;
        Sourced<int>? devices = null;
        if (block["devices"] is { } d)
        {
            var r = Read(d, "a whole number of devices, e.g. `devices 64`");
            devices = r.Whole(1);
            r.End();
            failed |= devices is null;
            if (devices is { } cap && cluster is not null && (cap.Value % cluster.DevicesPerNode.Value != 0 || cap.Value > cluster.Devices))
            {
                _diagnostics.Add(DiagnosticCodes.SweepNotApplicable.Create(cap.Span, "devices",
                    $"{cap.Value} is not a multiple of the {cluster.DevicesPerNode.Value} devices per node up to the cluster's {cluster.Devices}"));
                failed = true;
            }
        }

        var dimensions = ImmutableArray.CreateBuilder<DimensionValues>();
        foreach (var name in LanguageSchema.SettingNames("sweep").Order(StringComparer.Ordinal))
        {
            if (name == "devices" || block[name] is not { } s)
            {
                continue;
            }

            if (decode is { Role: PoolRole.Serve } && (name.StartsWith("prefill.", StringComparison.Ordinal) || name.StartsWith("decode.", StringComparison.Ordinal) || name == "proxy.mode"))
            {
                _diagnostics.Add(DiagnosticCodes.SweepNotApplicable.Create(s.Range.In(_file), name,
                    "this plan serves aggregated (`serve`): it has no prefill and decode pools to vary"));
                failed = true;
                continue;
            }

            var values = BindSweepValues(s, SweepDimensions.Names[name]);
            if (values is null)
            {
                failed = true;
                continue;
            }

            if (values.Dimension == SearchDimension.DecodeMtp && values.Values.Contains(1) && decode is { Mtp: null })
            {
                _diagnostics.Add(DiagnosticCodes.SweepNotApplicable.Create(s.Range.In(_file), name,
                    "`on` needs the decode pool's `mtp { draft_tokens N acceptance X }` block to take the draft length and acceptance from"));
                failed = true;
                continue;
            }

            dimensions.Add(values);
        }

        // Written order: the report lists the dimensions as the plan does (enumeration order is SearchDimension's).
        var ordered = dimensions.OrderBy(v => v.Span!.Value.Start).ToImmutableArray();
        return failed ? null : new SweepPlan(block.Span, devices, ordered);
    }

    /// <summary>The setting's arguments as words (let constants evaluated), parsed by <see cref="SweepValues"/>.</summary>
    private DimensionValues? BindSweepValues(SettingSyntax setting, SearchDimension dimension)
    {
        var name = setting.Name.Name;
        if (setting.Block is { } child)
        {
            _diagnostics.Add(DiagnosticCodes.UnexpectedBlock.Create(child.Range.In(_file), name, "does not take a block"));
            return null;
        }

        var words = new List<string>();
        foreach (var argument in setting.Arguments)
        {
            switch (argument)
            {
                case IdentifierSyntax identifier when SweepValues.Keywords.Contains(identifier.Name) || !_scope.TryGet(identifier.Name, out _):
                    words.Add(identifier.Name);
                    break;
                case ExpressionSyntax expression when expression is not StringLiteralSyntax:
                    if (_evaluator.Evaluate(expression) is not { } value)
                    {
                        return null;
                    }

                    words.Add(value.Quantity is { Dimension: Dimension.None } q && q.Value == Math.Floor(q.Value) && q.Value is >= 0 and <= int.MaxValue
                        ? ((int)q.Value).ToString(CultureInfo.InvariantCulture)
                        : Describe(expression, value));
                    break;
                default:
                    words.Add(Describe(argument, null));
                    break;
            }
        }

        var parsed = SweepValues.Parse(dimension, name, words, out var error);
        if (parsed is null)
        {
            var span = error!.Word >= 0 && error.Word < setting.Arguments.Length ? setting.Arguments[error.Word].Range.In(_file) : setting.Range.In(_file);
            var descriptor = error.Kind switch
            {
                SweepValueErrorKind.EmptyRange => DiagnosticCodes.SweepEmptyRange,
                SweepValueErrorKind.BadStep => DiagnosticCodes.SweepBadStep,
                _ => DiagnosticCodes.SweepWrongValue,
            };
            _diagnostics.Add(descriptor.Create(span, error.Message));
            return null;
        }

        return parsed with { Span = setting.Range.In(_file) };
    }

    /// <summary>A non-word argument as the message shows it: its source text.</summary>
    private static string Describe(ArgumentSyntax argument, BoundValue? value) => argument switch
    {
        NumberLiteralSyntax n => n.Text,
        QuantityLiteralSyntax q => q.Text,
        StringLiteralSyntax s => s.Text,
        OperatorSyntax o => o.Text,
        _ when value?.Quantity is { } q => q.Value.ToString("0.######", CultureInfo.InvariantCulture),
        _ => "a value",
    };
}
