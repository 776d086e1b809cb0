using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Catalog;
using MoePlan.Core.Emit;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan models</c>: the embedded model catalog with derived parameter counts.</summary>
internal static class ModelsCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var format = CommonOptions.Format("text", "json");
        var command = new Command("models", """
            List the models of the embedded catalog: architecture, derived and published parameter counts, sources.

            Examples:
              moeplan models
              moeplan models --format json
            """)
        {
            format,
        };
        command.SetAction(parse => Run(parse.GetValue(format)!, stdout));
        return command;
    }

    public static int Run(string format, TextWriter stdout)
    {
        var models = EmbeddedCatalog.Instance.Models;
        if (format == "json")
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
            {
                w.WriteStartArray();
                foreach (var m in models)
                {
                    var a = m.Architecture;
                    var p = ParameterCounter.Count(a);
                    w.WriteStartObject();
                    w.WriteString("name", m.Name);
                    w.WriteString("display_name", m.DisplayName);
                    w.WriteString("native_weight_precision", m.NativeWeightPrecision);
                    w.WriteNumber("layers", a.Layers);
                    w.WriteNumber("hidden_size", a.HiddenSize);
                    w.WriteNumber("routed_experts", a.RoutedExperts);
                    w.WriteNumber("shared_experts", a.SharedExperts);
                    w.WriteNumber("experts_per_token", a.TopK);
                    w.WriteString("attention", a.Attention is MlaAttention ? "mla" : "gqa");
                    w.WriteNumber("attention_heads", a.Attention.Heads);
                    w.WriteNumber("mtp_layers", a.MtpLayers);
                    w.WriteNumber("derived_total_parameters", p.TotalParameters);
                    w.WriteNumber("derived_main_parameters", p.MainModelParameters);
                    w.WriteNumber("derived_active_parameters", p.ActiveParameters);
                    if (m.Published is { } published)
                    {
                        w.WriteNumber("published_total_billions", published.TotalBillions);
                        w.WriteNumber("published_active_billions", published.ActiveBillions);
                    }

                    w.WriteString("source", m.Source);
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            stdout.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("name", "layers", "hidden", "experts (routed/shared/top-k)", "attention", "params derived", "published", "weights");
        foreach (var m in models)
        {
            var a = m.Architecture;
            var p = ParameterCounter.Count(a);
            var attention = a.Attention is MlaAttention ? $"MLA {a.Attention.Heads}h" : $"GQA {a.Attention.Heads}h";
            table.AddRow(
                Markup.Escape(m.Name),
                a.Layers.ToString(CultureInfo.InvariantCulture),
                a.HiddenSize.ToString(CultureInfo.InvariantCulture),
                $"{a.RoutedExperts}/{a.SharedExperts}/{a.TopK}",
                attention,
                $"{Billions(p.MainModelParameters)} / {Billions(p.ActiveParameters)} active",
                m.Published is { } pub ? $"{pub.TotalBillions.ToString("0.#", CultureInfo.InvariantCulture)}B / {pub.ActiveBillions.ToString("0.#", CultureInfo.InvariantCulture)}B" : "-",
                m.NativeWeightPrecision);
        }

        TableWriter.Write(stdout, table);
        return ExitCodes.Ok;
    }

    private static string Billions(long parameters) => (parameters / 1e9).ToString("0.0", CultureInfo.InvariantCulture) + "B";
}
