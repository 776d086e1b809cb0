using System.Globalization;
using System.Text.Json;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// Plan -> engine, every row of docs/bundles.md's tables: each sample plan is compiled for every target, the engine
/// commands are read back out of the launch scripts and the Kubernetes manifests with a shell tokenizer
/// (<see cref="ShellCommandLine"/>), and each flag is compared with the value the row derives from plan.json: the
/// expectation is computed here from the plan's own figures, never read from the template.
/// </summary>
public sealed class EngineSettingsTests
{
    public static TheoryData<string> Plans()
    {
        var data = new TheoryData<string>();
        foreach (var plan in RepositoryPaths.SamplePlans())
        {
            data.Add(plan);
        }

        return data;
    }

    /// <summary>One pool's figures from plan.json.</summary>
    private sealed record PoolFigures(
        string Role, int Instances, int Dp, int Tp, int Ep, int Ranks, int Devices, int? MaxBatchTokensPerDevice, int? MaxBatchPerDevice,
        int? DraftTokens, bool Overlap, double WeightBytes, double KvBytes, double ActivationBytes, double BufferBytes, double TotalBytes, double UsableBytes,
        double StepMilliseconds);

    private sealed record PlanFigures(
        string Engine, bool Ascend, string Experts, string KvCache, int Context, double CapacityPerRank, int Redundant, string Algorithm,
        PoolFigures Prefill, PoolFigures Decode, string? Rebalance)
    {
        /// <summary>Aggregated plans have one serve pool: <see cref="Prefill"/> and <see cref="Decode"/> are both it.</summary>
        public PoolFigures Pool(string role) => role == "prefill" ? Prefill : Decode;

        public bool Aggregated => Prefill.Role == "serve";
    }

    private static PlanFigures Figures(string planJson, string costJson)
    {
        var root = JsonDocument.Parse(planJson).RootElement;
        var cost = JsonDocument.Parse(costJson).RootElement;
        var hardware = root.GetProperty("hardware");
        var dies = hardware.GetProperty("dies_per_package").GetInt32();
        PoolFigures Pool(string role)
        {
            var p = root.GetProperty(role);
            var m = p.GetProperty("memory_per_rank");
            int? Optional(string name) => p.GetProperty(name).ValueKind == JsonValueKind.Null ? null : p.GetProperty(name).GetInt32();
            return new PoolFigures(
                role, p.GetProperty("instances").GetInt32(), p.GetProperty("dp").GetInt32(), p.GetProperty("tp").GetInt32(), p.GetProperty("ep").GetInt32(),
                p.GetProperty("ranks_per_instance").GetInt32(), p.GetProperty("devices_per_instance").GetInt32(),
                Optional("max_batch_tokens_per_device"), Optional("max_batch_per_device"),
                p.TryGetProperty("mtp", out var mtp) && mtp.ValueKind == JsonValueKind.Object ? mtp.GetProperty("draft_tokens").GetInt32() : null,
                p.GetProperty("microbatch_overlap").GetBoolean(),
                m.GetProperty("weights_bytes").GetDouble(), m.GetProperty("kv_cache_bytes").GetDouble(), m.GetProperty("activation_bytes").GetDouble(),
                m.GetProperty("communication_buffer_bytes").GetDouble(), m.GetProperty("total_bytes").GetDouble(), m.GetProperty("usable_bytes").GetDouble(),
                cost.GetProperty(role == "prefill" ? "prefill" : "decode").GetProperty("step_ms").GetDouble());
        }

        var precision = root.GetProperty("precision");
        return new PlanFigures(
            root.GetProperty("engine").GetString()!,
            hardware.GetProperty("name").GetString()!.StartsWith("ascend", StringComparison.Ordinal),
            precision.GetProperty("experts").GetString()!,
            precision.GetProperty("kv_cache").GetString()!,
            root.GetProperty(root.TryGetProperty("serve", out _) ? "serve" : "decode").GetProperty("context_tokens").GetInt32(),
            hardware.GetProperty("hbm_bytes_per_device").GetDouble() / dies,
            root.GetProperty("placement").GetProperty("redundant_experts").GetInt32(),
            root.GetProperty("placement").GetProperty("algorithm").GetString()!,
            Pool(root.TryGetProperty("serve", out _) ? "serve" : "prefill"),
            Pool(root.TryGetProperty("serve", out _) ? "serve" : "decode"),
            root.GetProperty("placement").TryGetProperty("rebalance", out var rebalance) ? rebalance.GetString() : null);
    }

    /// <summary>
    /// What the engines get for the plan's rebalancing (plan.json's words, e.g. "every 60 s with eplb"): forward passes
    /// between rebalances, ceil(interval / the pool's step time in cost.json); a threshold plan checks every 10 s (the
    /// plan's check period, docs/placement.md) and SGLang compares mean/max GPU load, so the threshold is 1 / imbalance.
    /// </summary>
    private static (long Iterations, string? Utilization, string Algorithm)? ExpectedRebalance(PlanFigures f, PoolFigures pool)
    {
        if (f.Rebalance is null or "off")
        {
            return null;
        }

        var periodic = System.Text.RegularExpressions.Regex.Match(f.Rebalance, @"^every ([0-9.]+) s with (\S+)$");
        var threshold = System.Text.RegularExpressions.Regex.Match(f.Rebalance, @"^when imbalance > ([0-9.]+) with (\S+)$");
        Assert.True(periodic.Success || threshold.Success, f.Rebalance);
        var match = periodic.Success ? periodic : threshold;
        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var intervalMilliseconds = periodic.Success ? value * 1000 : 10_000;
        return ((long)Math.Ceiling(intervalMilliseconds / pool.StepMilliseconds),
            threshold.Success ? (1 / value).ToString("0.000", CultureInfo.InvariantCulture) : null,
            match.Groups[2].Value == "eplb-global" ? "deepseek" : "deepseek_hierarchical");
    }

    /// <summary>Engine commands of the bundle: launch scripts, and the scripts of the Kubernetes pods.</summary>
    private static List<(string File, ShellCommandLine Command)> EngineCommands(SortedDictionary<string, string> files)
    {
        var commands = new List<(string, ShellCommandLine)>();
        foreach (var (path, text) in files)
        {
            if (path.EndsWith(".sh", StringComparison.Ordinal))
            {
                commands.AddRange(ShellCommandLine.EngineCommands(text).Select(c => (path, c)));
            }
            else if (path.EndsWith("leaderworkerset.yaml", StringComparison.Ordinal))
            {
                foreach (var document in BundleFiles.YamlDocuments(text))
                {
                    var template = document!["spec"]!["leaderWorkerTemplate"]!;
                    foreach (var name in new[] { "leaderTemplate", "workerTemplate" })
                    {
                        foreach (var container in template[name]?["spec"]!["containers"]!.AsArray() ?? [])
                        {
                            var script = container!["args"]![0]!.GetValue<string>();
                            commands.AddRange(ShellCommandLine.EngineCommands(script).Select(c => ($"{path} {name}", c)));
                        }
                    }
                }
            }
        }

        return commands;
    }

    private static string RoleOf(ShellCommandLine command)
    {
        // A serve instance neither produces nor consumes KV, and is no disaggregation side.
        if (command.Words[0] == "vllm" && !command.Has("--kv-transfer-config"))
        {
            return "serve";
        }

        if (command.Words[0] != "vllm" && !command.Has("--disaggregation-mode"))
        {
            return "serve";
        }

        if (command.Words[0] == "vllm")
        {
            var kv = JsonDocument.Parse(command.Value("--kv-transfer-config")).RootElement.GetProperty("kv_role").GetString();
            return kv == "kv_producer" ? "prefill" : "decode";
        }

        return command.Value("--disaggregation-mode");
    }

    private static int Int(ShellCommandLine command, string flag) => int.Parse(command.Value(flag), NumberStyles.None, CultureInfo.InvariantCulture);

    private static double Number(ShellCommandLine command, string flag) => double.Parse(command.Value(flag), NumberStyles.Float, CultureInfo.InvariantCulture);

    [Theory]
    [MemberData(nameof(Plans))]
    public void Every_plan_setting_reaches_the_engine_commands(string plan)
    {
        var (folder, files) = BundleFiles.Compile(plan, BundleFiles.AllTargets);
        try
        {
            var f = Figures(files["plan.json"], files["cost.json"]);
            var commands = EngineCommands(files);
            var vllmCount = 0;
            var sglangCount = 0;
            foreach (var (file, command) in commands)
            {
                var where = $"{plan}: {file}: {string.Join(' ', command.Words)}";
                var pool = f.Pool(RoleOf(command));
                try
                {
                    if (command.Words[0] == "vllm")
                    {
                        CheckVllm(f, pool, command);
                        vllmCount++;
                    }
                    else
                    {
                        CheckSglang(f, pool, command);
                        sglangCount++;
                    }
                }
                catch (Exception e) when (e is Xunit.Sdk.XunitException or KeyNotFoundException or InvalidOperationException)
                {
                    throw new Xunit.Sdk.XunitException($"{where}\n{e.Message}");
                }
            }

            // Both engines' launch scripts exist for every plan (--target vllm and sglang), and Kubernetes runs the plan's engine.
            // One pool (aggregated): one SGLang command, from its launch script.
            Assert.True(vllmCount >= 2 && sglangCount >= (f.Aggregated ? 1 : 2), $"{plan}: {vllmCount} vLLM and {sglangCount} SGLang commands");
            var podCommands = commands.Where(c => c.File.StartsWith("kubernetes/", StringComparison.Ordinal)).Select(c => c.Command.Words[0]).Distinct().ToList();
            Assert.Equal([f.Engine == "sglang" ? "python3" : "vllm"], podCommands);

            // Every instance node has exactly one command in the launch scripts.
            foreach (var (engineFolder, head) in new[] { ("vllm/", "vllm"), ("sglang/", "python3") })
            {
                foreach (var role in f.Aggregated ? ["serve"] : new[] { "prefill", "decode" })
                {
                    var p = f.Pool(role);
                    var nodesPerInstance = Math.Max(1, (int)Math.Ceiling(p.Devices / (double)DevicesPerNode(files["plan.json"])));
                    var count = commands.Count(c => c.File.StartsWith(engineFolder, StringComparison.Ordinal) && c.Command.Words[0] == head && RoleOf(c.Command) == role);
                    Assert.Equal(p.Instances * nodesPerInstance, count);
                }
            }
        }
        finally
        {
            BundleFiles.Delete(folder);
        }
    }

    private static int DevicesPerNode(string planJson) =>
        JsonDocument.Parse(planJson).RootElement.GetProperty("cluster").GetProperty("devices_per_node").GetInt32();

    /// <summary>The rows of the vLLM table.</summary>
    private static void CheckVllm(PlanFigures f, PoolFigures pool, ShellCommandLine c)
    {
        // Weights: fp8 -> --quantization fp8; int8 -> ascend (vllm-ascend) or experts_int8; FP4 -> the pre-quantised checkpoint's
        // method (ModelOpt NVFP4: modelopt_fp4; MXFP4: mxfp4); bf16 -> the checkpoint as it is.
        string? quantization = f.Experts switch
        {
            "fp8" => "fp8",
            "int8" => f.Ascend ? "ascend" : "experts_int8",
            "nvfp4" => "modelopt_fp4",
            "mxfp4" => "mxfp4",
            _ => null,
        };
        Assert.Equal(quantization, c.Has("--quantization") ? c.Value("--quantization") : null);
        Assert.Equal(f.KvCache == "fp8" ? "fp8" : "auto", c.Value("--kv-cache-dtype"));

        // Memory: the verifier's budget (usable / capacity), rounded down to two decimals, still holding the plan's total.
        var utilization = Number(c, "--gpu-memory-utilization");
        var budget = pool.UsableBytes / f.CapacityPerRank;
        Assert.InRange(utilization, budget - 0.01, budget + 1e-12);
        Assert.True(utilization * f.CapacityPerRank >= pool.TotalBytes, $"{utilization} of {f.CapacityPerRank} does not hold {pool.TotalBytes}");

        Assert.Equal(f.Context, Int(c, "--max-model-len"));
        Assert.Equal(pool.Tp, Int(c, "--tensor-parallel-size"));
        Assert.Equal(pool.Dp, Int(c, "--data-parallel-size"));

        // vLLM's expert parallelism spans all DP x TP ranks of the instance.
        Assert.Equal(pool.Ep > 1, c.Has("--enable-expert-parallel"));
        if (pool.Ep > 1)
        {
            Assert.Equal(pool.Ranks, pool.Ep);
        }

        // A serve pool has both: the chunked-prefill budget and the running sequences.
        if (pool.Role != "decode")
        {
            Assert.True(c.Has("--enable-chunked-prefill"));
            Assert.Equal(pool.MaxBatchTokensPerDevice!.Value * pool.Devices / pool.Dp, Int(c, "--max-num-batched-tokens"));
        }

        if (pool.Role == "prefill")
        {
            Assert.False(c.Has("--speculative-config"));
        }
        else
        {
            Assert.Equal(pool.MaxBatchPerDevice!.Value * pool.Devices / pool.Dp, Int(c, "--max-num-seqs"));
            if (pool.DraftTokens is { } draft)
            {
                var config = JsonDocument.Parse(c.Value("--speculative-config")).RootElement;
                Assert.Equal(draft, config.GetProperty("num_speculative_tokens").GetInt32());
            }
            else
            {
                Assert.False(c.Has("--speculative-config"));
            }
        }

        // Redundant experts: EPLB with that many, or (Ascend) the plan's own map, which holds them.
        if (c.Has("--additional-config"))
        {
            Assert.True(f.Ascend);
            Assert.Contains("expert_map_path", c.Value("--additional-config"), StringComparison.Ordinal);
        }
        else if (ExpectedRebalance(f, pool) is { } rebalance)
        {
            // vLLM counts its interval and its statistics window in steps: both the plan's interval.
            var config = JsonDocument.Parse(c.Value("--eplb-config")).RootElement;
            Assert.Equal(f.Redundant, config.GetProperty("num_redundant_experts").GetInt32());
            Assert.Equal(rebalance.Iterations, config.GetProperty("step_interval").GetInt64());
            Assert.Equal(rebalance.Iterations, config.GetProperty("window_size").GetInt64());
        }
        else if (f.Redundant > 0 || f.Algorithm.StartsWith("eplb", StringComparison.Ordinal))
        {
            Assert.True(c.Has("--enable-eplb"));
            Assert.Equal(f.Redundant, JsonDocument.Parse(c.Value("--eplb-config")).RootElement.GetProperty("num_redundant_experts").GetInt32());
        }

        Assert.Equal(pool.Overlap && !f.Ascend, c.Has("--enable-dbo"));
    }

    /// <summary>The rows of the SGLang table.</summary>
    private static void CheckSglang(PlanFigures f, PoolFigures pool, ShellCommandLine c)
    {
        string? quantization = f.Experts switch { "fp8" => "fp8", "int8" => "w8a8_int8", "nvfp4" => "modelopt_fp4", "mxfp4" => "mxfp4", _ => null };
        Assert.Equal(quantization, c.Has("--quantization") ? c.Value("--quantization") : null);
        Assert.Equal(f.KvCache == "fp8" ? "fp8_e4m3" : "auto", c.Value("--kv-cache-dtype"));

        // Static memory (weights + KV pool): the budget less the plan's activations and buffers, rounded down to 0.001.
        var fraction = Number(c, "--mem-fraction-static");
        var room = (pool.UsableBytes - pool.ActivationBytes - pool.BufferBytes) / f.CapacityPerRank;
        Assert.InRange(fraction, room - 0.001, room + 1e-12);
        Assert.True(fraction * f.CapacityPerRank >= pool.WeightBytes + pool.KvBytes, $"{fraction} does not hold weights + KV");

        Assert.Equal(f.Context, Int(c, "--context-length"));
        Assert.Equal(pool.Ranks, Int(c, "--tp-size"));
        Assert.Equal(pool.Dp > 1, c.Has("--enable-dp-attention"));
        Assert.Equal(pool.Dp > 1 ? pool.Dp : (int?)null, c.Has("--dp-size") ? Int(c, "--dp-size") : null);
        Assert.Equal(pool.Ep > 1 ? pool.Ep : (int?)null, c.Has("--ep-size") ? Int(c, "--ep-size") : null);
        Assert.Equal(pool.Role == "serve" ? null : pool.Role, c.Has("--disaggregation-mode") ? c.Value("--disaggregation-mode") : null);
        if (pool.Role != "decode")
        {
            var tokens = pool.MaxBatchTokensPerDevice!.Value * pool.Devices;
            Assert.Equal(tokens, Int(c, "--chunked-prefill-size"));
            Assert.Equal(tokens, Int(c, "--max-prefill-tokens"));
        }

        if (pool.Role == "prefill")
        {
            Assert.False(c.Has("--speculative-algorithm"));
        }
        else
        {
            Assert.Equal(pool.MaxBatchPerDevice!.Value * pool.Devices, Int(c, "--max-running-requests"));
            if (pool.DraftTokens is { } draft)
            {
                Assert.Equal("EAGLE", c.Value("--speculative-algorithm"));
                Assert.Equal(draft, Int(c, "--speculative-num-steps"));
                Assert.Equal(draft + 1, Int(c, "--speculative-num-draft-tokens"));
            }
            else
            {
                Assert.False(c.Has("--speculative-algorithm"));
            }
        }

        Assert.Equal(f.Redundant > 0 ? f.Redundant : (int?)null, c.Has("--ep-num-redundant-experts") ? Int(c, "--ep-num-redundant-experts") : null);
        // SGLang rebalances only when the plan says so; the plan's own layout comes in through --init-expert-location.
        var expected = ExpectedRebalance(f, pool);
        Assert.Equal(expected is not null, c.Has("--enable-eplb"));
        if (expected is { } r)
        {
            Assert.Equal(r.Algorithm, c.Value("--eplb-algorithm"));
            Assert.Equal(r.Iterations, long.Parse(c.Value("--eplb-rebalance-num-iterations"), CultureInfo.InvariantCulture));
            Assert.Equal(r.Utilization, c.Has("--eplb-min-rebalancing-utilization-threshold") ? c.Value("--eplb-min-rebalancing-utilization-threshold") : null);
        }

        Assert.Equal(pool.Overlap, c.Has("--enable-two-batch-overlap"));
    }

    [Fact]
    public void The_tokenizer_splits_as_bash_does()
    {
        // bash 5.2 splits the first line into the same words (printf "<%s>" of them, by hand), except that it expands $M.
        var commands = ShellCommandLine.Commands("A=1 vllm serve \"$M\" \\\n  --x '{\"a\":1}' --y \"q\\\"r\" # c\nexec b\\ c &\nwait\n");
        Assert.Equal(3, commands.Count);
        Assert.Equal(["A=1", "vllm", "serve", "$M", "--x", "{\"a\":1}", "--y", "q\"r"], commands[0]);
        Assert.Equal(["exec", "b c"], commands[1]);
        Assert.Equal(["wait"], commands[2]);
        var engine = Assert.Single(ShellCommandLine.EngineCommands("A=1 vllm serve m --flag --v 3"));
        Assert.Equal("", engine.Value("--flag"));
        Assert.Equal("3", engine.Value("--v"));
    }
}
