using System.Text.Json;
using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class ExpertMapFormatsTests
{
    private static readonly ExpertPlacement Small = new("moeplan", 3, 4, 2, 1,
    [
        new LayerPlacement(3, 3, [[0, 1], [0, 2]]),
        new LayerPlacement(4, 3, [[2, 0], [1, 2]]),
    ]);

    [Fact]
    public void VllmAscend_ExpertMap()
    {
        const string expected = """
            {
              "moe_layer_count": 2,
              "layer_list": [
                {
                  "layer_id": 0,
                  "device_count": 2,
                  "device_list": [
                    {
                      "device_id": 0,
                      "device_expert": [0, 1]
                    },
                    {
                      "device_id": 1,
                      "device_expert": [0, 2]
                    }
                  ]
                },
                {
                  "layer_id": 1,
                  "device_count": 2,
                  "device_list": [
                    {
                      "device_id": 0,
                      "device_expert": [2, 0]
                    },
                    {
                      "device_id": 1,
                      "device_expert": [1, 2]
                    }
                  ]
                }
              ]
            }

            """;
        Assert.Equal(expected, ExpertMapFormats.VllmAscendExpertMap(Small));
    }

    [Fact]
    public void Sglang_PhysicalToLogicalMap_FillsDenseLayersWithTheDefaultMap()
    {
        const string expected = """
            {
              "physical_to_logical_map": [
                [0, 1, 2, 0],
                [0, 1, 2, 0],
                [0, 1, 2, 0],
                [0, 1, 0, 2],
                [2, 0, 1, 2]
              ]
            }

            """;
        var result = ExpertMapFormats.SglangExpertLocation(Small, modelLayers: 5);
        Assert.True(result.Succeeded);
        Assert.Equal(expected, result.Text);
        Assert.Equal(result.Text, ExpertMapFormats.SglangExpertLocation(Small).Text);
    }

    [Fact]
    public void Sglang_RejectsUnevenPlacements_MP5140()
    {
        var uneven = Small with { Layers = [new LayerPlacement(3, 3, [[0, 1, 2], [0]])] };
        var result = ExpertMapFormats.SglangExpertLocation(uneven);
        Assert.False(result.Succeeded);
        Assert.Equal(DiagnosticCodes.MapFormatUnsupported, Assert.Single(result.Diagnostics).Descriptor);
        Assert.False(ExpertMapFormats.SglangExpertLocation(Small, modelLayers: 4).Succeeded);
    }

    [Fact]
    public void PlacementJson_HasAlgorithmLayersAndMetrics_InAFixedOrder()
    {
        var loads = ExpertLoads.Create([3, 4], [[6.0, 2, 4], [1.0, 1, 1]]);
        var json = ExpertMapFormats.PlacementJson(Small, PlacementMetrics.Compute(loads, Small));
        Assert.StartsWith("{\n  \"format\": \"moeplan-placement\",\n  \"version\": 1,\n  \"algorithm\": \"moeplan\",\n", json);
        using var document = JsonDocument.Parse(json);
        var root = document.RootElement;
        Assert.Equal(
            ["format", "version", "algorithm", "experts", "physical_experts", "devices", "devices_per_node", "metrics", "layers"],
            root.EnumerateObject().Select(p => p.Name));
        var layer = root.GetProperty("layers")[0];
        Assert.Equal(3, layer.GetProperty("layer_id").GetInt32());
        Assert.Equal(1.166667, layer.GetProperty("imbalance").GetDouble()); // 7/6 rounded to 6 decimals
        Assert.Equal("[2, 1, 1]", layer.GetProperty("replica_counts").GetRawText());
        Assert.Equal("[0, 2]", layer.GetProperty("devices")[1].GetRawText());
        Assert.Contains("\"devices\": [\n        [0, 1],\n        [0, 2]\n      ]", json);
    }
}
