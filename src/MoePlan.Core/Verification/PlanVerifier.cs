using System.Collections.Immutable;
using System.Globalization;
using MoePlan.Core.Catalog;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Plan;
using MoePlan.Core.Text;

namespace MoePlan.Core.Verification;

/// <summary>
/// Checks a bound plan against the model, the hardware and itself: divisibility of experts and heads,
/// ranks against devices and nodes, pools against the cluster, per-rank memory, engine fit.
/// </summary>
public static class PlanVerifier
{
    public static ImmutableArray<Diagnostic> Verify(DeploymentPlan plan)
    {
        var diagnostics = new List<Diagnostic>();
        var hardware = plan.Hardware.Value;
        var cluster = plan.Cluster;
        var model = plan.Model.Entry;

        if (cluster.SupernodeDevices is { } supernode &&
            (supernode.Value % cluster.DevicesPerNode.Value != 0 || supernode.Value > cluster.Devices))
        {
            diagnostics.Add(DiagnosticCodes.SupernodeShape.Create(supernode.Span, supernode.Value, cluster.DevicesPerNode.Value, cluster.Devices));
        }

        var shapesOk = true;
        foreach (var pool in plan.Pools)
        {
            shapesOk &= VerifyPool(plan, pool, diagnostics);
        }

        if (shapesOk)
        {
            VerifyClusterSize(plan, diagnostics);
        }

        if (plan.Decode.Mtp is { } mtp && model.Architecture.MtpLayers == 0)
        {
            diagnostics.Add(DiagnosticCodes.MtpUnsupported.CreateWithHint(mtp.Span, "use `mtp off`, or a model whose config has num_nextn_predict_layers > 0", model.Name));
        }

        VerifyProxy(plan, diagnostics);
        VerifyPlacement(plan, diagnostics);
        if (plan.Workload.Trace is null)
        {
            // A trace's lengths are measured with the cost model's (PlanCompiler checks them there).
            diagnostics.AddRange(WorkloadFit.CheckContext(plan, null));
        }

        var figuresOk = VerifyFourBitFormats(plan, diagnostics) & VerifyRequiredFigures(plan, diagnostics);
        if (shapesOk && figuresOk && !diagnostics.Any(d => d.IsError))
        {
            foreach (var pool in plan.Pools)
            {
                VerifyMemory(plan, pool, diagnostics);
            }
        }

        return [.. diagnostics];
    }

    /// <summary>
    /// The catalog leaves out figures no source gives; the checks and the cost model need these ones:
    /// HBM capacity and bandwidth, the compute rate at the experts' precision, and the scale-out
    /// bandwidth when an instance spans more than one scale-up domain (unless the plan gives it).
    /// </summary>
    private static bool VerifyRequiredFigures(DeploymentPlan plan, List<Diagnostic> diagnostics)
    {
        var hardware = plan.Hardware.Value;
        var span = plan.Hardware.Span;
        var source = hardware.Estimated ? "the catalog marks this chip estimated and gives no sourced figure" : "no source gives it";
        var ok = true;
        void Require(bool present, string figure, string needer, string fix)
        {
            if (!present)
            {
                diagnostics.Add(DiagnosticCodes.HardwareFigureRequired.CreateWithHint(span, fix, hardware.Name, figure, needer, source));
                ok = false;
            }
        }

        Require(hardware.HbmBytesPerPackage is not null, "HBM capacity", "the memory check", "choose a chip with a sourced HBM capacity");
        Require(hardware.HbmBytesPerSecondPerPackage is not null, "HBM bandwidth", "the cost model", "choose a chip with a sourced HBM bandwidth");
        var experts = plan.Precision.Experts;
        if (experts.Value.IsFourBit() && hardware.Fp4TeraFlopsPerPackage is null)
        {
            return false; // MP3030 says so, with the fix
        }

        var (rate, name) = experts.Value switch
        {
            NumericFormat.Fp8 => (hardware.Fp8TeraFlopsPerPackage, "FP8 TFLOPS"),
            NumericFormat.Int8 => (hardware.Int8TeraOpsPerPackage, "INT8 TOPS"),
            NumericFormat.Nvfp4 or NumericFormat.Mxfp4 => (hardware.Fp4TeraFlopsPerPackage, "FP4 TFLOPS"),
            _ => (hardware.Bf16TeraFlopsPerPackage, "BF16 TFLOPS"),
        };
        // The hint names the setting that supplies the figure and the precisions this chip has a sourced rate for.
        var sourced = new (double? Rate, string Name)[] { (hardware.Bf16TeraFlopsPerPackage, "bf16"), (hardware.Fp8TeraFlopsPerPackage, "fp8"), (hardware.Int8TeraOpsPerPackage, "int8") }
            .Where(p => p.Rate is not null).Select(p => $"`{p.Name}`").ToList();
        Require(rate is not null, name, $"the cost model at the experts' {experts.Value.ToString().ToLowerInvariant()} precision",
            sourced.Count > 0
                ? $"set the experts' precision (`precision`) to one this chip has a sourced rate for: {string.Join(", ", sourced)} (see `moeplan hardware`)"
                : "choose a chip with a sourced compute rate (see `moeplan hardware`)");

        var domain = plan.Cluster.ScaleUpDomainDevices;
        var spansDomains = plan.Pools.Any(p => (double)p.Parallel.Ranks / hardware.DiesPerPackage > domain);
        if (spansDomains && plan.Cluster.ScaleOutBytesPerSecond is null)
        {
            Require(hardware.ScaleOutBytesPerSecondPerDirection is not null, "scale-out bandwidth", "instances that span nodes",
                "give it in the plan: `cluster { scale_out_bandwidth 400Gbps }`");
        }

        return ok;
    }

    /// <summary>
    /// NVFP4 and MXFP4 are weight formats of chips with FP4 tensor cores (Blackwell: B200, GB200). Elsewhere each format
    /// word that sets a 4-bit part is reported once, with the best format the chip has a sourced rate for as the fix.
    /// The KV cache and the all-to-all payloads stay 8-bit or wider: the engines' FP4 KV caches differ (vLLM's `nvfp4`,
    /// SGLang's `fp4_e2m1`, MXFP4 only) and moeplan does not model either yet; DeepEP dispatches FP8 or BF16.
    /// </summary>
    private static bool VerifyFourBitFormats(DeploymentPlan plan, List<Diagnostic> diagnostics)
    {
        var p = plan.Precision;
        var hardware = plan.Hardware.Value;
        var ok = true;
        foreach (var (part, format) in new[] { ("kv_cache", p.KvCache), ("dispatch", p.Dispatch), ("combine", p.Combine) })
        {
            if (format.Value.IsFourBit())
            {
                var why = part == "kv_cache" ? "an FP4 KV cache is not modelled: vLLM's nvfp4 and SGLang's fp4_e2m1 differ" : "DeepEP's all-to-all carries FP8 or BF16";
                diagnostics.Add(DiagnosticCodes.FourBitNotForPart.CreateWithHint(format.Span, $"use `{part} fp8`", part, Word(format.Value), why)
                    .WithReplacement(format.Span, "fp8"));
                ok = false;
            }
        }

        if (hardware.Fp4TeraFlopsPerPackage is not null)
        {
            return ok;
        }

        var fallback = hardware.Fp8TeraFlopsPerPackage is not null ? "fp8" : hardware.Int8TeraOpsPerPackage is not null ? "int8" : "bf16";
        var reported = new HashSet<SourceSpan>();
        foreach (var (part, format) in new[] { ("expert", p.Experts), ("attention", p.Attention), ("dense", p.Dense) })
        {
            if (format.Value.IsFourBit() && reported.Add(format.Span))
            {
                diagnostics.Add(DiagnosticCodes.FourBitNeedsHardware.CreateWithHint(format.Span, $"use `{fallback}`, the narrowest format {hardware.Name} has a sourced rate for, or an FP4 chip (`hardware b200`)",
                        part, Word(format.Value), hardware.Name, "Blackwell: b200, gb200")
                    .WithReplacement(format.Span, fallback));
                ok = false;
            }
        }

        return ok;
    }

    private static string Word(NumericFormat format) => format.ToString().ToLowerInvariant();

    private static string Name(PoolPlan pool) => pool.Name;

    private static int DevicesPerInstance(PoolPlan pool, HardwareEntry hardware) => pool.Parallel.Ranks / hardware.DiesPerPackage;

    private static bool VerifyPool(DeploymentPlan plan, PoolPlan pool, List<Diagnostic> diagnostics)
    {
        var a = plan.Model.Entry.Architecture;
        var hardware = plan.Hardware.Value;
        var parallel = pool.Parallel;
        var name = Name(pool);
        var ok = true;

        if (parallel.Ranks % hardware.DiesPerPackage != 0)
        {
            diagnostics.Add(DiagnosticCodes.RanksNotWholeDevices.Create(parallel.Span, name, parallel.DataParallel.Value,
                parallel.TensorParallel.Value, parallel.Ranks, hardware.Name, hardware.DiesPerPackage));
            ok = false;
        }

        var ep = parallel.ExpertParallel;
        if (parallel.Ranks % ep.Value != 0)
        {
            diagnostics.Add(DiagnosticCodes.ExpertParallelNotDivisible.Create(ep.Span, name, ep.Value, parallel.Ranks));
            ok = false;
        }

        var redundant = plan.Placement.RedundantExperts.Value;
        var slots = a.RoutedExperts + redundant;
        if (slots % ep.Value != 0)
        {
            // Jointly: one redundancy that every pool's EP divides, so fixing one pool does not break the other.
            var fix = SmallestRedundancy(a.RoutedExperts, redundant, plan.Prefill.Parallel.ExpertParallel.Value, plan.Decode.Parallel.ExpertParallel.Value);
            var diagnostic = DiagnosticCodes.ExpertsNotDivisible.CreateWithHint(ep.Span,
                $"use {fix} redundant experts ({a.RoutedExperts + fix} = {(a.RoutedExperts + fix) / ep.Value} x {ep.Value})",
                name, ep.Value, a.RoutedExperts, redundant, slots);
            diagnostics.Add(plan.Placement.RedundantExperts is { IsDefault: false } written
                ? diagnostic.WithFix($"Use {fix} redundant experts", new TextEdit(written.Span, fix.ToString(CultureInfo.InvariantCulture)))
                : diagnostic);
            ok = false;
        }

        var tp = parallel.TensorParallel;
        if (a.Attention.Heads % tp.Value != 0)
        {
            diagnostics.Add(DiagnosticCodes.HeadsNotDivisible.Create(tp.Span, name, tp.Value, $"the {a.Attention.Heads} attention heads of {plan.Model.Entry.Name}"));
            ok = false;
        }
        else if (a.Attention is GroupedQueryAttention gqa && gqa.KeyValueHeads % tp.Value != 0 && tp.Value % gqa.KeyValueHeads != 0)
        {
            diagnostics.Add(DiagnosticCodes.HeadsNotDivisible.Create(tp.Span, name, tp.Value, $"nor is a multiple of the {gqa.KeyValueHeads} KV heads"));
            ok = false;
        }

        if (ok)
        {
            var devices = DevicesPerInstance(pool, hardware);
            var perNode = plan.Cluster.DevicesPerNode.Value;
            if (devices > perNode && devices % perNode != 0)
            {
                diagnostics.Add(DiagnosticCodes.InstanceSplitsNodes.CreateWithHint(parallel.Span,
                    $"make an instance a whole number of nodes ({perNode * (int)Math.Ceiling((double)devices / perNode)} devices)",
                    name, devices, $"spans {((double)devices / perNode).ToString("0.##", CultureInfo.InvariantCulture)}", perNode));
                ok = false;
            }
            else if (devices < perNode && perNode % devices != 0)
            {
                diagnostics.Add(DiagnosticCodes.InstanceSplitsNodes.CreateWithHint(parallel.Span,
                    "use an instance size that divides the node",
                    name, devices, "does not tile", perNode));
                ok = false;
            }
        }

        if (pool.Role == PoolRole.Serve && pool.MaxBatchTokensPerDevice is { } budget && pool.MaxBatchPerDevice is { } batch)
        {
            // The decode batch is scheduled first (vLLM and SGLang alike); prompt chunks take what is left of the budget.
            var perSequence = 1 + (pool.Mtp?.DraftTokens.Value ?? 0);
            var decodeTokens = batch.Value * perSequence;
            if (budget.Value <= decodeTokens)
            {
                diagnostics.Add(DiagnosticCodes.ChunkBudgetBelowDecodeBatch.CreateWithHint(budget.Span,
                    $"raise max_batch_tokens above {decodeTokens} per device, or lower max_batch",
                    budget.Value, decodeTokens, batch.Value, perSequence));
                ok = false;
            }
        }

        if (ok && pool.MicrobatchOverlap.Value)
        {
            var tokens = MemoryModel.TokensPerDataParallelRank(pool, hardware);
            if (tokens < 2)
            {
                diagnostics.Add(DiagnosticCodes.OverlapNeedsTwoBatches.Create(pool.MicrobatchOverlap.Span, name,
                    $"{tokens.ToString("0.##", CultureInfo.InvariantCulture)} token(s) per step"));
            }
        }

        return ok;
    }

    /// <summary>The least redundancy at or above the plan's that makes the slots a multiple of every pool's EP.</summary>
    private static int SmallestRedundancy(int routed, int current, int prefillEp, int decodeEp)
    {
        for (var r = current; ; r++)
        {
            if ((routed + r) % prefillEp == 0 && (routed + r) % decodeEp == 0)
            {
                return r;
            }
        }
    }

    private static void VerifyClusterSize(DeploymentPlan plan, List<Diagnostic> diagnostics)
    {
        var hardware = plan.Hardware.Value;
        var needed = plan.Pools.Sum(p => p.Instances.Value * DevicesPerInstance(p, hardware));
        var cluster = plan.Cluster;
        if (needed > cluster.Devices)
        {
            var nodes = (int)Math.Ceiling((double)needed / cluster.DevicesPerNode.Value);
            var pools = string.Join(", ", plan.Pools.Select(p => $"{p.Name} {p.Instances.Value} x {DevicesPerInstance(p, hardware)}"));
            var diagnostic = DiagnosticCodes.ClusterTooSmall.CreateWithHint(cluster.Nodes.Span,
                $"use `nodes {nodes}` or fewer instances",
                needed, pools, cluster.Devices, cluster.Nodes.Value, cluster.DevicesPerNode.Value);
            diagnostics.Add(cluster.Nodes.IsDefault ? diagnostic : diagnostic.WithFix($"Use `nodes {nodes}`", new TextEdit(cluster.Nodes.Span, nodes.ToString(CultureInfo.InvariantCulture))));
        }
        else if (needed < cluster.Devices)
        {
            diagnostics.Add(DiagnosticCodes.IdleDevices.Create(cluster.Nodes.Span, cluster.Devices - needed, cluster.Devices));
        }
    }

    private static void VerifyProxy(DeploymentPlan plan, List<Diagnostic> diagnostics)
    {
        var mode = plan.Proxy.Mode;
        if (mode.IsDefault || plan.IsAggregated)
        {
            return;
        }

        if (mode.Value == ProxyMode.Parallel && plan.Engine.Value == EngineKind.Vllm)
        {
            diagnostics.Add(DiagnosticCodes.ProxyModeMismatch.Create(mode.Span, "parallel", "vLLM",
                "vLLM's decode side allocates and pulls the KV cache after prefill; parallel mode suits SGLang"));
        }
        else if (mode.Value == ProxyMode.Sequential && plan.Engine.Value == EngineKind.Sglang)
        {
            diagnostics.Add(DiagnosticCodes.ProxyModeMismatch.Create(mode.Span, "sequential", "SGLang",
                "SGLang pre-allocates KV on decode and prefill pushes it layer by layer; sequential mode suits vLLM"));
        }
    }

    private static void VerifyPlacement(DeploymentPlan plan, List<Diagnostic> diagnostics)
    {
        var algorithm = plan.Placement.Algorithm;
        if (algorithm.Value != "eplb-hierarchical")
        {
            return;
        }

        var a = plan.Model.Entry.Architecture;
        var nodes = (int)Math.Ceiling((double)DevicesPerInstance(plan.Prefill, plan.Hardware.Value) / plan.Cluster.DevicesPerNode.Value);
        if (a.ExpertGroups <= 1)
        {
            diagnostics.Add(DiagnosticCodes.HierarchicalFallsBack.Create(algorithm.Span, $"{plan.Model.Entry.Name} has no expert groups"));
        }
        else if (a.ExpertGroups % nodes != 0)
        {
            diagnostics.Add(DiagnosticCodes.HierarchicalFallsBack.Create(algorithm.Span, $"{a.ExpertGroups} expert groups do not divide over {nodes} nodes of a prefill instance"));
        }
    }

    private static void VerifyMemory(DeploymentPlan plan, PoolPlan pool, List<Diagnostic> diagnostics)
    {
        var m = MemoryModel.Compute(plan, pool);
        if (m.Fits)
        {
            return;
        }

        var hardware = plan.Hardware.Value;
        var unit = hardware.DiesPerPackage > 1 ? "die" : "device";
        // Serve: the step's tokens (activations, buffers) are the chunk budget's, fixed; max_batch scales only the KV.
        var fixedBytes = pool.Role == PoolRole.Serve ? m.WeightBytes + m.ActivationBytes + m.CommunicationBufferBytes : m.WeightBytes;
        var perUnit = (pool.Role == PoolRole.Serve ? m.KvCacheBytes : m.KvCacheBytes + m.ActivationBytes + m.CommunicationBufferBytes) /
                      (pool.Role == PoolRole.Prefill ? pool.MaxBatchTokensPerDevice!.Value.Value : pool.MaxBatchPerDevice!.Value.Value);
        string hint;
        int? fittingBatch = null;
        if (fixedBytes >= m.UsableBytes)
        {
            hint = pool.Role == PoolRole.Serve && m.WeightBytes < m.UsableBytes
                ? $"the weights and one step's activations and buffers need {Gb(fixedBytes)} GB: lower max_batch_tokens, raise ep or tp, or use a smaller precision"
                : $"the weights alone need {Gb(m.WeightBytes)} GB: raise ep or tp, or use a smaller precision";
        }
        else
        {
            var limit = (int)Math.Floor((m.UsableBytes - fixedBytes) / perUnit);
            fittingBatch = limit > 0 ? limit : null;
            hint = pool.Role == PoolRole.Prefill
                ? $"lower max_batch_tokens to {limit} per device"
                : $"lower max_batch to {limit} per device, or context";
            if (pool.Decodes)
            {
                var kvPerContextToken = m.KvCacheBytes / pool.ContextTokens!.Value.Value;
                var context = (int)Math.Floor((m.UsableBytes - (m.TotalBytes - m.KvCacheBytes)) / kvPerContextToken);
                hint += context > 0 ? $" to {context}" : " (the batch's activations alone do not fit)";
            }
        }

        var batch = pool.Role == PoolRole.Prefill ? pool.MaxBatchTokensPerDevice!.Value : pool.MaxBatchPerDevice!.Value;
        var diagnostic = DiagnosticCodes.MemoryDoesNotFit.CreateWithHint(batch.Span, hint, Name(pool), Gb(m.TotalBytes), unit,
            Gb(m.WeightBytes), Gb(m.KvCacheBytes), Gb(m.ActivationBytes), Gb(m.CommunicationBufferBytes),
            hardware.DiesPerPackage > 1 ? $"a {hardware.Name} die" : hardware.Name,
            Gb(m.CapacityBytes), Gb(m.UsableBytes), (int)(MemoryFootprint.ReservedFraction * 100));
        diagnostics.Add(fittingBatch is { } fits && !batch.IsDefault
            ? diagnostic.WithFix($"Lower {(pool.Role == PoolRole.Prefill ? "max_batch_tokens" : "max_batch")} to {fits} per device", new TextEdit(batch.Span, fits.ToString(CultureInfo.InvariantCulture)))
            : diagnostic);
    }

    private static string Gb(double bytes) => (bytes / 1e9).ToString("0.0", CultureInfo.InvariantCulture);
}
