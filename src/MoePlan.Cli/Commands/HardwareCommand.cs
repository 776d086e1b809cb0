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

/// <summary><c>moeplan hardware</c>: the embedded accelerator catalog, each figure with its source.</summary>
internal static class HardwareCommand
{
    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var format = CommonOptions.Format("text", "json");
        var command = new Command("hardware", """
            List the accelerators of the embedded catalog, per package (device). A figure no source gives is
            shown as '-' and the verifier asks for it when a check needs it.

            Examples:
              moeplan hardware
              moeplan hardware --format json
            """)
        {
            format,
        };
        command.SetAction(parse => Run(parse.GetValue(format)!, stdout));
        return command;
    }

    public static int Run(string format, TextWriter stdout)
    {
        var hardware = EmbeddedCatalog.Instance.Hardware;
        if (format == "json")
        {
            using var stream = new MemoryStream();
            using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/hardware/v1");
                w.WriteStartArray("hardware");
                foreach (var h in hardware)
                {
                    w.WriteStartObject();
                    w.WriteString("name", h.Name);
                    w.WriteString("display_name", h.DisplayName);
                    w.WriteString("vendor", h.Vendor);
                    w.WriteString("family", h.Family);
                    w.WriteNumber("dies_per_package", h.DiesPerPackage);
                    w.WriteBoolean("estimated", h.Estimated);
                    w.WriteNumberOrNull("bf16_tflops", h.Bf16TeraFlopsPerPackage);
                    w.WriteNumberOrNull("fp8_tflops", h.Fp8TeraFlopsPerPackage);
                    w.WriteNumberOrNull("int8_tops", h.Int8TeraOpsPerPackage);
                    w.WriteNumberOrNull("hbm_bytes", h.HbmBytesPerPackage);
                    w.WriteNumberOrNull("hbm_bytes_per_s", h.HbmBytesPerSecondPerPackage);
                    w.WriteNumberOrNull("scale_up_bytes_per_s_per_direction", h.ScaleUpBytesPerSecondPerDirection);
                    w.WriteNumberOrNull("scale_up_latency_us", h.ScaleUpLatencyMicroseconds);
                    w.WriteNumberOrNull("scale_out_bytes_per_s_per_direction", h.ScaleOutBytesPerSecondPerDirection);
                    w.WriteNumberOrNull("devices_per_node", h.DevicesPerNode);
                    w.WriteStartObject("sources");
                    foreach (var (key, source) in h.Sources)
                    {
                        w.WriteString(key, source);
                    }

                    w.WriteEndObject();
                    w.WriteEndObject();
                }

                w.WriteEndArray();
                w.WriteEndObject();
            }

            stdout.WriteLine(Encoding.UTF8.GetString(stream.ToArray()));
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumns("name", "dies", "BF16 TFLOPS", "FP8 TFLOPS", "INT8 TOPS", "HBM GB", "HBM TB/s", "scale-up GB/s/dir", "scale-out GB/s/dir", "per node");
        foreach (var h in hardware)
        {
            table.AddRow(
                Markup.Escape(h.Name + (h.Estimated ? " (estimated)" : "")),
                h.DiesPerPackage.ToString(CultureInfo.InvariantCulture),
                Show(h.Bf16TeraFlopsPerPackage),
                Show(h.Fp8TeraFlopsPerPackage),
                Show(h.Int8TeraOpsPerPackage),
                Show(h.HbmBytesPerPackage / 1e9),
                Show(h.HbmBytesPerSecondPerPackage / 1e12),
                Show(h.ScaleUpBytesPerSecondPerDirection / 1e9),
                Show(h.ScaleOutBytesPerSecondPerDirection / 1e9),
                Show(h.DevicesPerNode));
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine("Sources: moeplan hardware --format json");
        return ExitCodes.Ok;
    }

    private static string Show(double? value) => value is { } v ? v.ToString("0.##", CultureInfo.InvariantCulture) : "-";

}
