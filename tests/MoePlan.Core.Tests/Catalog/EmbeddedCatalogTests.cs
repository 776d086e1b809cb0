using System.Reflection;
using MoePlan.Core.Catalog;
using Xunit;

namespace MoePlan.Core.Tests.Catalog;

public sealed class EmbeddedCatalogTests
{
    private static EmbeddedCatalog Catalog => EmbeddedCatalog.Instance;

    [Fact]
    public void BothCatalogsLoadInFileOrder()
    {
        Assert.Equal(
            ["deepseek-v3", "deepseek-r1", "openpangu-ultra-moe-718b", "kimi-k2", "qwen3-235b-a22b", "qwen1.5-moe-a2.7b"],
            Catalog.Models.Select(m => m.Name));
        Assert.Equal(
            ["h100", "h800", "h200", "b200", "gb200", "ascend-910c", "ascend-910b"],
            Catalog.Hardware.Select(h => h.Name));
    }

    [Theory]
    [InlineData("deepseek-v3", "deepseek-v3")]
    [InlineData("DeepSeek-V3", "deepseek-v3")]
    [InlineData("DSV3", "deepseek-v3")]
    [InlineData("pangu-718b", "openpangu-ultra-moe-718b")]
    [InlineData("Kimi-K2-Instruct", "kimi-k2")]
    [InlineData("QWEN1.5-MOE-A2.7B", "qwen1.5-moe-a2.7b")]
    public void FindModelIsCaseInsensitiveAndKnowsAliases(string query, string expected) =>
        Assert.Equal(expected, Catalog.FindModel(query)?.Name);

    [Theory]
    [InlineData("H100", "h100")]
    [InlineData("h800", "h800")]
    [InlineData("910C", "ascend-910c")]
    [InlineData("Ascend-910B", "ascend-910b")]
    [InlineData("gb200-nvl72", "gb200")]
    public void FindHardwareIsCaseInsensitiveAndKnowsAliases(string query, string expected) =>
        Assert.Equal(expected, Catalog.FindHardware(query)?.Name);

    [Fact]
    public void UnknownNamesAreNotFound()
    {
        Assert.Null(Catalog.FindModel("llama-3-70b"));
        Assert.Null(Catalog.FindHardware("tpu-v5p"));
    }

    [Fact]
    public void EveryNonNullHardwareFigureHasASource()
    {
        var figures = typeof(HardwareEntry)
            .GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => Nullable.GetUnderlyingType(p.PropertyType) is { } t && (t == typeof(double) || t == typeof(long) || t == typeof(int)))
            .ToList();
        // The record's nullable figures (guards against the reflection silently finding nothing).
        Assert.Equal(11, figures.Count);

        foreach (var hardware in Catalog.Hardware)
        {
            foreach (var property in figures.Where(p => p.GetValue(hardware) is not null))
            {
                Assert.True(
                    hardware.Sources.TryGetValue(property.Name, out var source) && !string.IsNullOrWhiteSpace(source),
                    $"{hardware.Name}.{property.Name} has no source");
            }

            // No stale source: every key names a property of the record that has a value.
            foreach (var key in hardware.Sources.Keys)
            {
                var property = typeof(HardwareEntry).GetProperty(key);
                Assert.True(property is not null && property.GetValue(hardware) is not null, $"{hardware.Name}: source for '{key}' names no figure");
            }
        }
    }

    [Fact]
    public void HardwareFiguresAreSiUnitsPerDirection()
    {
        // figures.md: H100 SXM 80 GB, 3.35 TB/s, NVLink 900 GB/s bidirectional, 400 Gb/s (50 GB/s).
        var h100 = Catalog.FindHardware("h100")!;
        Assert.Equal(80_000_000_000L, h100.HbmBytesPerPackage);
        Assert.Equal(3.35e12, h100.HbmBytesPerSecondPerPackage);
        Assert.Equal(450e9, h100.ScaleUpBytesPerSecondPerDirection);
        Assert.Equal(50e9, h100.ScaleOutBytesPerSecondPerDirection);
        Assert.Equal(989, h100.Bf16TeraFlopsPerPackage);
        Assert.Equal(1979, h100.Fp8TeraFlopsPerPackage);
        Assert.Equal(8, h100.DevicesPerNode);
        Assert.False(h100.Estimated);

        // figures.md: H800 NVLink 400 GB/s bidirectional.
        Assert.Equal(200e9, Catalog.FindHardware("h800")!.ScaleUpBytesPerSecondPerDirection);

        // figures.md: B200 180 GB usable, 8 TB/s, FP4 9000.
        var b200 = Catalog.FindHardware("b200")!;
        Assert.Equal(180_000_000_000L, b200.HbmBytesPerPackage);
        Assert.Equal(8e12, b200.HbmBytesPerSecondPerPackage);
        Assert.Equal(9000, b200.Fp4TeraFlopsPerPackage);

        // figures.md: GB200 72-GPU NVLink domain; tray size has no source here.
        var gb200 = Catalog.FindHardware("gb200")!;
        Assert.Equal(72, gb200.ScaleUpDomainPackages);
        Assert.Null(gb200.DevicesPerNode);
    }

    [Fact]
    public void Ascend910CIsOnePackageOfTwoDies()
    {
        // figures.md: 752 TFLOPS BF16 (376 per die), INT8 ~1504, 128 GB (2 x 64), 3.2 TB/s (2 x 1.6),
        // UB measured ~196 GB/s per direction, ~1.2 us; CloudMatrix384 = 48 nodes x 8 NPUs, one UB domain.
        var npu = Catalog.FindHardware("ascend-910c")!;
        Assert.Equal(2, npu.DiesPerPackage);
        Assert.Equal(752, npu.Bf16TeraFlopsPerPackage);
        Assert.Equal(1504, npu.Int8TeraOpsPerPackage);
        Assert.Null(npu.Fp8TeraFlopsPerPackage);
        Assert.Equal(128_000_000_000L, npu.HbmBytesPerPackage);
        Assert.Equal(3.2e12, npu.HbmBytesPerSecondPerPackage);
        Assert.Equal(196e9, npu.ScaleUpBytesPerSecondPerDirection);
        Assert.Equal(1.2, npu.ScaleUpLatencyMicroseconds);
        Assert.Equal(50e9, npu.ScaleOutBytesPerSecondPerDirection);
        Assert.Equal(8, npu.DevicesPerNode);
        Assert.Equal(384, npu.ScaleUpDomainPackages);
        Assert.Contains("DiesPerPackage", npu.Sources.Keys);
    }

    [Fact]
    public void Ascend910BIsEstimatedAndInventsNothing()
    {
        // figures.md: no authoritative datasheet; web figures disagree on TFLOPS (280-376), agree on 64 GB.
        var npu = Catalog.FindHardware("ascend-910b")!;
        Assert.True(npu.Estimated);
        Assert.Null(npu.Bf16TeraFlopsPerPackage);
        Assert.Null(npu.HbmBytesPerSecondPerPackage);
        Assert.Null(npu.ScaleUpBytesPerSecondPerDirection);
        Assert.Equal(64_000_000_000L, npu.HbmBytesPerPackage);
        Assert.All(Catalog.Hardware.Where(h => h.Name != "ascend-910b"), h => Assert.False(h.Estimated));
    }

    [Theory]
    [InlineData("deepseek-v3", "fp8")]   // quantization_config quant_method fp8 (e4m3)
    [InlineData("deepseek-r1", "fp8")]
    [InlineData("kimi-k2", "fp8")]
    [InlineData("openpangu-ultra-moe-718b", "int8")] // the seed article deploys the V1.1-Int8 checkpoint
    [InlineData("qwen3-235b-a22b", "bf16")]
    [InlineData("qwen1.5-moe-a2.7b", "bf16")]
    public void NativeWeightPrecisionFollowsTheSources(string model, string precision) =>
        Assert.Equal(precision, Catalog.FindModel(model)!.NativeWeightPrecision);

    [Theory]
    // figures.md "total / active params" row.
    [InlineData("deepseek-v3", 671, 37)]
    [InlineData("deepseek-r1", 671, 37)]
    [InlineData("openpangu-ultra-moe-718b", 718, 39)]
    [InlineData("kimi-k2", 1000, 32)]
    [InlineData("qwen3-235b-a22b", 235, 22)]
    [InlineData("qwen1.5-moe-a2.7b", 14.3, 2.7)]
    public void PublishedParametersMatchFiguresMd(string model, double total, double active)
    {
        var published = Catalog.FindModel(model)!.Published!;
        Assert.Equal(total, published.TotalBillions);
        Assert.Equal(active, published.ActiveBillions);
        Assert.False(string.IsNullOrWhiteSpace(published.Source));
    }

    [Fact]
    public void SecondHandSourcesKeepTheirMarker()
    {
        // figures.md marks the DeepSeek-V3 HF config copy, the OpenPanguMoEConfig defaults, the Qwen
        // config copies and the CloudMatrix384 paper figures as [2nd].
        Assert.Contains("[2nd]", Catalog.FindModel("deepseek-v3")!.Source, StringComparison.Ordinal);
        Assert.Contains("[2nd]", Catalog.FindModel("openpangu-ultra-moe-718b")!.Source, StringComparison.Ordinal);
        Assert.Contains("[2nd]", Catalog.FindModel("qwen3-235b-a22b")!.Source, StringComparison.Ordinal);
        Assert.Contains("[2nd]", Catalog.FindModel("qwen1.5-moe-a2.7b")!.Source, StringComparison.Ordinal);
        Assert.All(
            Catalog.FindHardware("ascend-910c")!.Sources.Values,
            s => Assert.Contains("[2nd]", s, StringComparison.Ordinal));
    }

    [Fact]
    public void ArchitecturesOfModelsWithoutConfigJsonMatchTheirArchFacts()
    {
        // tests/data/models/openPangu-Ultra-MoE-718B.arch_facts.md: 61 layers, hidden 7680, intermediate
        // 18432, moe 2048, 256 routed / 1 shared / top-8, 3 dense, MLA 128 heads, 1536/512/128/64/128,
        // vocab 153600, 1 MTP layer, scaling 2.5, sigmoid, sandwich norm, max_position_embeddings 131072 (L17).
        var pangu = Catalog.FindModel("openpangu-ultra-moe-718b")!.Architecture;
        Assert.Equal(
            new ModelArchitecture(61, 7680, 18432, 2048, 256, 1, 2048, 8, 3, 1, 1,
                new MlaAttention(128, 1536, 512, 128, 64, 128), 153600, 1, false, 2.5, "sigmoid")
            { SandwichNorm = true, MaxPositionEmbeddings = 131072 },
            pangu);

        // tests/data/models/Qwen1.5-MoE-A2.7B.arch_facts.md: 24 layers, hidden 2048, 16 heads (MHA), 60
        // experts top-4, moe 1408, one shared expert 5632 wide with a sigmoid gate, vocab 151936,
        // max_position_embeddings 8192 (the base-model fixture; the -Chat configs say 32768).
        var qwen = Catalog.FindModel("qwen1.5-moe-a2.7b")!.Architecture;
        Assert.Equal(
            new ModelArchitecture(24, 2048, 5632, 1408, 60, 1, 5632, 4, 0, 1, 1,
                new GroupedQueryAttention(16, 16, 128, QkvBias: true, QkNorm: false), 151936, 0, false, 1.0, "softmax")
            { SharedExpertGate = true, MaxPositionEmbeddings = 8192 },
            qwen);
    }

    [Fact]
    public void MalformedModelEntryThrowsNamingTheEntry()
    {
        const string models = """
            - name: broken-model
              display_name: Broken
              native_weight_precision: bf16
              source: test
              architecture:
                layers: 2
            """;
        var error = Assert.Throws<InvalidOperationException>(() => EmbeddedCatalog.Parse(models, "[]"));
        Assert.Contains("broken-model", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HardwareFigureWithoutSourceThrowsNamingTheEntry()
    {
        const string hardware = """
            - name: broken-chip
              display_name: Broken
              vendor: Test
              family: Test
              dies_per_package: 1
              estimated: false
              hbm_bytes_per_package: { value: 80e9 }
            """;
        var error = Assert.Throws<InvalidOperationException>(() => EmbeddedCatalog.Parse("[]", hardware));
        Assert.Contains("broken-chip", error.Message, StringComparison.Ordinal);
        Assert.Contains("HbmBytesPerPackage", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownYamlKeyThrows()
    {
        const string hardware = """
            - name: typo-chip
              display_name: Typo
              vendor: Test
              family: Test
              dies_per_package: 1
              estimated: false
              hbm_bytes: { value: 80e9, source: test }
            """;
        var error = Assert.Throws<InvalidOperationException>(() => EmbeddedCatalog.Parse("[]", hardware));
        Assert.Contains("hardware.yaml", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DuplicateAliasThrows()
    {
        var hardware = """
            - name: chip-a
              display_name: A
              vendor: Test
              family: Test
              dies_per_package: 1
              estimated: false
            - name: chip-b
              aliases: [chip-a]
              display_name: B
              vendor: Test
              family: Test
              dies_per_package: 1
              estimated: false
            """;
        var error = Assert.Throws<InvalidOperationException>(() => EmbeddedCatalog.Parse("[]", hardware));
        Assert.Contains("chip-a", error.Message, StringComparison.Ordinal);
    }
}
