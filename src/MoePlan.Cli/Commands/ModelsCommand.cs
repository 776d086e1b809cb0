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
            stdout.WriteLine(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/models/v1");
                w.WriteStartArray("models");
                foreach (var m in models)
                {
                    ModelJsonWriter.Write(w, m, configPath: null);
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }));
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
