using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MoePlan.Cli.Options;
using MoePlan.Cli.Terminal;
using MoePlan.Core.Emit;
using MoePlan.Core.Text;
using MoePlan.Emulation.Emulator;
using MoePlan.Emulation.Kernels;
using Spectre.Console;

namespace MoePlan.Cli.Commands;

/// <summary><c>moeplan kernels amla</c>: run the absorbed-MLA decode kernel in both variants on the
/// emulated Ascend 910-class die and report accuracy against FP64 and emulated utilisation.</summary>
internal static class KernelsCommand
{
    /// <summary>Upper limits that keep one invocation to minutes of host time; not device limits.</summary>
    private const int MaxHeads = 1024, MaxKvLen = 131_072, MaxBatch = 1024;

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var command = new Command("kernels", """
            Run moeplan's kernels on the emulated Ascend 910-class NPU and report what they measure.

            Examples:
              moeplan kernels amla
              moeplan kernels amla --heads 128 --kv-len 4096 --batch 4 --format json
            """);
        command.Subcommands.Add(CreateAmla(stdout));
        return command;
    }

    private static Command CreateAmla(TextWriter stdout)
    {
        var heads = new Option<int>("--heads") { Description = $"Query heads (1-{MaxHeads}).", DefaultValueFactory = _ => 128 };
        var kvLen = new Option<int>("--kv-len") { Description = $"KV length per sequence (1-{MaxKvLen}).", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch") { Description = $"Sequences, one query token each (1-{MaxBatch}).", DefaultValueFactory = _ => 1 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random BF16 inputs.", DefaultValueFactory = _ => 7 };
        var format = CommonOptions.Format("text", "json");
        var command = new Command("amla", """
            Absorbed-MLA decode attention (576-wide keys, 512-wide values, DeepSeek softmax scale) in two
            variants on the same random inputs: AMLA (power-of-two rescale as an integer add in GM) and
            Standard (FlashAttention online softmax). Reports the relative L2 error of each against an FP64
            reference, emulated Cube utilisation of the whole die, GM traffic and emulated time.

            Examples:
              moeplan kernels amla
              moeplan kernels amla --kv-len 4096 --format json
              moeplan kernels amla --heads 16 --kv-len 300 --batch 2 --seed 3
            """)
        {
            heads,
            kvLen,
            batch,
            seed,
            format,
        };
        command.SetAction(parse => Run(
            parse.GetValue(heads), parse.GetValue(kvLen), parse.GetValue(batch), parse.GetValue(seed), parse.GetValue(format)!, stdout));
        return command;
    }

    public static int Run(int heads, int kvLen, int batch, int seed, string format, TextWriter stdout)
    {
        RequireRange("--heads", heads, MaxHeads);
        RequireRange("--kv-len", kvLen, MaxKvLen);
        RequireRange("--batch", batch, MaxBatch);
        var spec = DeviceSpec.Ascend910Die;
        var shape = new AmlaShape(heads, kvLen, batch, seed);
        if (shape.TooLarge() is { } tooLarge)
        {
            throw new CliUsageException(tooLarge);
        }

        var comparison = AmlaKernel.Compare(shape, spec);
        if (format == "json")
        {
            stdout.WriteLine(JsonOutput.Write(w =>
            {
                w.WriteStartObject();
                w.WriteString("schema", "moeplan/kernels-amla/v1");
                w.WriteStartObject("shape");
                w.WriteNumber("heads", heads);
                w.WriteNumber("kv_len", kvLen);
                w.WriteNumber("batch", batch);
                w.WriteNumber("seed", seed);
                w.WriteNumber("qk_dim", MlaDims.QkDim);
                w.WriteNumber("v_dim", MlaDims.VDim);
                w.WriteNumber("softmax_scale", shape.SoftmaxScale);
                w.WriteEndObject();
                w.WriteStartObject("device");
                w.WriteString("name", spec.Name);
                w.WriteNumber("ai_cores", spec.AiCores);
                w.WriteNumber("clock_hz", spec.ClockHz);
                w.WriteNumber("peak_flops_per_second", spec.PeakFlopsPerSecond);
                w.WriteEndObject();
                WriteReport(w, "amla", comparison.Amla);
                WriteReport(w, "standard", comparison.Standard);
                w.WriteNumber("rel_difference_amla_vs_standard", comparison.RelDifferenceAmlaVsStandard);
                w.WriteEndObject();
            }));
            return ExitCodes.Ok;
        }

        stdout.WriteLine($"Absorbed-MLA decode: {heads} heads, KV {kvLen}, batch {batch}, seed {seed}, on the emulated {spec.Name} ({spec.AiCores} AI cores)");
        var table = new Table().AddColumns("variant", "rel. error vs FP64", "Cube util", "Vector util", "GM util", "GM bytes", "emulated us", "cores", "TFLOPS");
        foreach (var r in new[] { comparison.Amla, comparison.Standard })
        {
            table.AddRow(
                r.Variant == AttentionVariant.Amla ? "AMLA" : "Standard",
                r.RelErrorVsFp64.ToString("0.00e+0", CultureInfo.InvariantCulture),
                NumberText.Percent(r.CubeUtilization),
                NumberText.Percent(r.VectorUtilization),
                NumberText.Percent(r.GmBandwidthUtilization),
                Megabytes(r.GmBytes),
                r.EmulatedMicroseconds.ToString("0.0", CultureInfo.InvariantCulture),
                r.ActiveCores.ToString(CultureInfo.InvariantCulture),
                (r.AchievedFlopsPerSecond / 1e12).ToString("0.0", CultureInfo.InvariantCulture));
        }

        TableWriter.Write(stdout, table);
        stdout.WriteLine($"AMLA vs Standard relative L2 difference: {comparison.RelDifferenceAmlaVsStandard.ToString("0.00e+0", CultureInfo.InvariantCulture)}");
        stdout.WriteLine("Utilisation is busy cycles over (AI cores of the die x makespan); emulated, not measured on hardware.");
        return ExitCodes.Ok;
    }

    private static void WriteReport(Utf8JsonWriter w, string name, AmlaKernelReport r)
    {
        w.WriteStartObject(name);
        w.WriteNumber("rel_error_vs_fp64", r.RelErrorVsFp64);
        w.WriteNumber("cube_utilization", r.CubeUtilization);
        w.WriteNumber("flop_utilization", r.FlopUtilization);
        w.WriteNumber("vector_utilization", r.VectorUtilization);
        w.WriteNumber("gm_bandwidth_utilization", r.GmBandwidthUtilization);
        w.WriteNumber("gm_bytes", r.GmBytes);
        w.WriteNumber("gm_bytes_read", r.GmBytesRead);
        w.WriteNumber("gm_bytes_written", r.GmBytesWritten);
        w.WriteNumber("emulated_microseconds", r.EmulatedMicroseconds);
        w.WriteNumber("active_cores", r.ActiveCores);
        w.WriteNumber("achieved_flops_per_second", r.AchievedFlopsPerSecond);
        w.WriteNumber("kv_block", r.Tiling.BlockKv);
        w.WriteNumber("kv_splits", r.KvSplits);
        w.WriteNumber("l2_hit_bytes", r.L2HitBytes);
        w.WriteNumber("l2_peak_resident_bytes", r.L2PeakResidentBytes);
        w.WriteNumber("kv_rows_per_split", r.KvRowsPerSplit);
        w.WriteEndObject();
    }

    private static void RequireRange(string option, int value, int max)
    {
        if (value < 1 || value > max)
        {
            throw new CliUsageException($"{option} must be between 1 and {max}, got {value}");
        }
    }


    private static string Megabytes(long bytes) => (bytes / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " MB";
}
