using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using MoePlan.Core.Catalog;
using MoePlan.Core.Plan;

namespace MoePlan.Core.Emit;

/// <summary>
/// The normalised plan as JSON: fixed property order, invariant numbers, no timestamps, no absolute paths.
/// Units are in the property names (<c>_ms</c>, <c>_bytes</c>, <c>_per_s</c>).
/// </summary>
public static class PlanJsonWriter
{
    public static string Write(DeploymentPlan plan)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, JsonOutput.Options))
        {
            w.WriteStartObject();
            w.WriteString("schema", "moeplan/plan/v1");
            w.WriteString("name", plan.Name.Value);
            w.WriteString("engine", Engine(plan.Engine.Value));
            WriteModel(w, plan);
            WritePrecision(w, plan.Precision);
            WriteHardware(w, plan.Hardware.Value);
            WriteCluster(w, plan.Cluster);
            w.WriteNumberOrNull("price_usd_per_device_hour", plan.PriceUsdPerDeviceHour?.Value);

            foreach (var pool in plan.Pools)
            {
                WritePool(w, pool.Name, pool, plan);
            }

            WritePlacement(w, plan.Placement);
            WriteProxy(w, plan.Proxy);
            WriteSlo(w, plan.Slo);
            WriteWorkload(w, plan.Workload);
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(stream.ToArray()).Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    public static string Engine(EngineKind engine) => engine switch
    {
        EngineKind.Vllm => "vllm",
        EngineKind.Sglang => "sglang",
        _ => "omni-infer",
    };

    public static string Format(NumericFormat format) => format.ToString().ToLowerInvariant();

    private static void WriteModel(Utf8JsonWriter w, DeploymentPlan plan)
    {
        w.WritePropertyName("model");
        ModelJsonWriter.Write(w, plan.Model.Entry, plan.Model.ConfigPath);
    }

    private static void WritePrecision(Utf8JsonWriter w, PrecisionPlan p)
    {
        w.WriteStartObject("precision");
        w.WriteString("weights", Format(p.Weights.Value));
        w.WriteString("attention", Format(p.Attention.Value));
        w.WriteString("experts", Format(p.Experts.Value));
        w.WriteString("dense", Format(p.Dense.Value));
        w.WriteString("kv_cache", Format(p.KvCache.Value));
        w.WriteString("dispatch", Format(p.Dispatch.Value));
        w.WriteString("combine", Format(p.Combine.Value));
        w.WriteEndObject();
    }

    private static void WriteHardware(Utf8JsonWriter w, HardwareEntry h)
    {
        w.WriteStartObject("hardware");
        w.WriteString("name", h.Name);
        w.WriteString("display_name", h.DisplayName);
        w.WriteNumber("dies_per_package", h.DiesPerPackage);
        w.WriteNumberOrNull("hbm_bytes_per_device", h.HbmBytesPerPackage);
        w.WriteEndObject();
    }

    private static void WriteCluster(Utf8JsonWriter w, ClusterPlan c)
    {
        w.WriteStartObject("cluster");
        w.WriteNumber("nodes", c.Nodes.Value);
        w.WriteNumber("devices_per_node", c.DevicesPerNode.Value);
        w.WriteNumber("devices", c.Devices);
        w.WriteNumber("scale_up_domain_devices", c.ScaleUpDomainDevices);
        w.WriteNumberOrNull("scale_up_bytes_per_s", c.ScaleUpBytesPerSecond?.Value);
        w.WriteNumberOrNull("scale_out_bytes_per_s", c.ScaleOutBytesPerSecond?.Value);
        w.WriteEndObject();
    }

    private static void WritePool(Utf8JsonWriter w, string name, PoolPlan pool, DeploymentPlan plan)
    {
        var hardware = plan.Hardware.Value;
        w.WriteStartObject(name);
        w.WriteNumber("instances", pool.Instances.Value);
        w.WriteNumber("dp", pool.Parallel.DataParallel.Value);
        w.WriteNumber("tp", pool.Parallel.TensorParallel.Value);
        w.WriteNumber("ep", pool.Parallel.ExpertParallel.Value);
        w.WriteNumber("ranks_per_instance", pool.Parallel.Ranks);
        w.WriteNumber("devices_per_instance", pool.Parallel.Ranks / hardware.DiesPerPackage);
        w.WriteNumberOrNull("max_batch_tokens_per_device", pool.MaxBatchTokensPerDevice?.Value);
        w.WriteNumberOrNull("max_batch_per_device", pool.MaxBatchPerDevice?.Value);
        w.WriteNumberOrNull("context_tokens", pool.ContextTokens?.Value);
        if (pool.Decodes)
        {
            if (pool.Mtp is { } mtp)
            {
                w.WriteStartObject("mtp");
                w.WriteNumber("draft_tokens", mtp.DraftTokens.Value);
                w.WriteNumber("acceptance", mtp.Acceptance.Value);
                w.WriteEndObject();
            }
            else
            {
                w.WriteNull("mtp");
            }
        }

        w.WriteBoolean("microbatch_overlap", pool.MicrobatchOverlap.Value);
        var slots = plan.Model.Entry.Architecture.RoutedExperts + plan.Placement.RedundantExperts.Value;
        w.WriteNumber("experts_per_rank", slots / pool.Parallel.ExpertParallel.Value);
        var memory = MemoryModel.Compute(plan, pool);
        w.WriteStartObject("memory_per_rank");
        w.WriteNumber("weights_bytes", Math.Round(memory.WeightBytes));
        w.WriteNumber("kv_cache_bytes", Math.Round(memory.KvCacheBytes));
        w.WriteNumber("activation_bytes", Math.Round(memory.ActivationBytes));
        w.WriteNumber("communication_buffer_bytes", Math.Round(memory.CommunicationBufferBytes));
        w.WriteNumber("total_bytes", Math.Round(memory.TotalBytes));
        w.WriteNumber("usable_bytes", Math.Round(memory.UsableBytes));
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WritePlacement(Utf8JsonWriter w, PlacementPlan p)
    {
        w.WriteStartObject("placement");
        w.WriteString("algorithm", p.Algorithm.Value);
        w.WriteNumber("redundant_experts", p.RedundantExperts.Value);
        switch (p.Loads)
        {
            case FileLoadSource file:
                w.WriteString("loads", file.Path);
                break;
            case SyntheticLoadSource synthetic:
                w.WriteString("loads", "synthetic");
                w.WriteNumber("loads_seed", synthetic.Seed);
                break;
        }

        w.WriteBoolean("uneven", p.Uneven.Value);
        w.WriteNumberOrNull("max_redundant_per_expert", p.MaxRedundantPerExpert?.Value);
        w.WriteNumberOrNull("max_redundant_per_device", p.MaxRedundantPerDevice?.Value);

        // Only plans that say them: plan.json of every other plan stays as it was.
        if (p.LoadsOverTime is { } windows)
        {
            w.WriteString("loads_over_time", windows.Value);
        }

        if (p.Rebalance is { } rebalance)
        {
            w.WriteString("rebalance", rebalance.Describe(p.Algorithm.Value));
        }

        w.WriteEndObject();
    }

    private static void WriteProxy(Utf8JsonWriter w, ProxyPlan p)
    {
        w.WriteStartObject("proxy");
        w.WriteString("mode", p.Mode.Value == ProxyMode.Parallel ? "parallel" : "sequential");
        w.WriteString("policy", p.Policy.Value);
        if (p.ScriptPath is { } script)
        {
            w.WriteString("script", script.Value);
        }

        w.WriteBoolean("apc", p.Apc.Value);
        w.WriteBoolean("tokenizer_reuse", p.TokenizerReuse.Value);
        if (p.Workers is { } workers)
        {
            w.WriteNumber("workers", workers.Value);
        }

        if (p.WorkerState is { } state)
        {
            w.WriteString("worker_state", state.Value == ProxyWorkerState.Independent ? "independent" : "shared");
        }
        w.WriteEndObject();
    }

    private static void WriteSlo(Utf8JsonWriter w, SloPlan slo)
    {
        w.WriteStartObject("slo");
        foreach (var (name, target) in new[] { ("ttft", slo.Ttft), ("tpot", slo.Tpot) })
        {
            if (target is null)
            {
                w.WriteNull(name);
                continue;
            }

            w.WriteStartObject(name);
            w.WriteString("statistic", target.StatisticName);
            w.WriteNumber("limit_ms", target.Milliseconds);
            w.WriteBoolean("inclusive", target.Inclusive);
            w.WriteEndObject();
        }

        w.WriteEndObject();
    }

    private static void WriteWorkload(Utf8JsonWriter w, WorkloadPlan workload)
    {
        w.WriteStartObject("workload");
        if (workload.Trace is { } trace)
        {
            w.WriteString("kind", "trace");
            w.WriteString("trace", trace.Path);
            w.WriteString("format", trace.Format.ToString().ToLowerInvariant());
        }
        else
        {
            w.WriteString("kind", "synthetic");
            if (workload.Arrivals is { } arrivals)
            {
                w.WriteString("arrivals", arrivals.Process.ToString().ToLowerInvariant());
                w.WriteNumber("rate_per_s", arrivals.RatePerSecond);
            }

            WriteDistribution(w, "input", workload.Input);
            WriteDistribution(w, "output", workload.Output);
        }

        w.WriteNumber("prefix_share", workload.PrefixShare.Value);
        w.WriteNumberOrNull("requests", workload.Requests?.Value);
        w.WriteNumber("seed", workload.Seed.Value);
        w.WriteEndObject();
    }

    private static void WriteDistribution(Utf8JsonWriter w, string name, LengthDistribution? distribution)
    {
        if (distribution is null)
        {
            return;
        }

        w.WriteStartObject(name);
        switch (distribution)
        {
            case FixedLength f:
                w.WriteString("kind", "fixed");
                w.WriteNumber("tokens", f.Tokens);
                break;
            case UniformLength u:
                w.WriteString("kind", "uniform");
                w.WriteNumber("min", u.Min);
                w.WriteNumber("max", u.Max);
                break;
            case LogNormalLength l:
                w.WriteString("kind", "lognormal");
                w.WriteNumber("mean", l.MeanTokens);
                w.WriteNumber("sd", l.StandardDeviationTokens);
                w.WriteNumberOrNull("min", l.Min);
                w.WriteNumberOrNull("max", l.Max);
                break;
        }

        w.WriteEndObject();
    }

}
