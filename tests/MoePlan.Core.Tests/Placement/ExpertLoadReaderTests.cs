using MoePlan.Core.Diagnostics;
using MoePlan.Core.Placement;
using MoePlan.Tests.Support;
using Xunit;

namespace MoePlan.Core.Tests.Placement;

public class ExpertLoadReaderTests
{
    private static ExpertLoadReadResult Read(string text, ExpertLoadFormat format = ExpertLoadFormat.Auto, int? layers = null, int? experts = null) =>
        ExpertLoadReader.Read(text, "loads.txt", format, layers, experts);

    private static Diagnostic Single(ExpertLoadReadResult result, DiagnosticDescriptor code)
    {
        Assert.False(result.Succeeded);
        return Assert.Single(result.Diagnostics, d => d.Descriptor == code);
    }

    [Fact]
    public void Csv_ReadsLayersAndExperts_KeepingLayerIds()
    {
        var result = Read("layer,expert,load\n3,0,10\n3,1,2.5\n\n# comment\n4,1,7\n4,0,0\n");
        Assert.True(result.Succeeded, string.Join("; ", result.Diagnostics));
        Assert.Equal(ExpertLoadFormat.Csv, result.Format);
        var loads = result.Loads!;
        Assert.Equal([3, 4], loads.LayerIds.ToArray());
        Assert.Equal(2, loads.ExpertCount);
        Assert.Equal([10.0, 2.5], loads.Layer(0).ToArray());
        Assert.Equal([0.0, 7.0], loads.Layer(1).ToArray());
    }

    [Fact]
    public void Csv_AcceptsCrLfSpacesAndHeaderCase()
    {
        var result = Read("Layer, Expert, Load\r\n0, 0, 1e3\r\n0, 1, 4\r\n");
        Assert.True(result.Succeeded);
        Assert.Equal([1000.0, 4.0], result.Loads!.Layer(0).ToArray());
    }

    [Fact]
    public void Json_ReadsTable()
    {
        var result = Read(" [[1, 2, 3], [4, 5.5, 0]]");
        Assert.True(result.Succeeded);
        Assert.Equal(ExpertLoadFormat.Json, result.Format);
        Assert.Equal([0, 1], result.Loads!.LayerIds.ToArray());
        Assert.Equal(5.5, result.Loads[1, 1]);
    }

    [Fact]
    public void Sglang_ReadsLogicalCountAndIgnoresOtherProperties()
    {
        var result = Read("{\"other\": {\"x\": [1]}, \"logical_count\": [[0, 0], [3, 1]]}");
        Assert.True(result.Succeeded);
        Assert.Equal(ExpertLoadFormat.Sglang, result.Format);
        Assert.Equal(2, result.Loads!.LayerCount);
        Assert.Equal(3.0, result.Loads[1, 0]);
        var nonEmpty = result.Loads.WithoutEmptyLayers()!;
        Assert.Equal([1], nonEmpty.LayerIds.ToArray());
    }

    [Fact]
    public void RealSglangFiles_Parse_WithDenseLayersZero()
    {
        var files = TestData.SglangExpertLoadFiles;
        Assert.Equal(6, files.Count);
        var peakToMean = new List<double>();
        foreach (var file in files)
        {
            var result = ExpertLoadReader.Read(File.ReadAllText(file), Path.GetFileName(file), expectedLayers: 61, expectedExperts: 256);
            Assert.True(result.Succeeded, string.Join("; ", result.Diagnostics));
            Assert.Empty(result.Diagnostics);
            Assert.Equal(ExpertLoadFormat.Sglang, result.Format);
            var loads = result.Loads!;
            Assert.Equal(61, loads.LayerCount);
            Assert.Equal(256, loads.ExpertCount);
            for (var layer = 0; layer < 3; layer++)
            {
                Assert.Equal(0.0, loads.LayerTotal(layer));
            }

            var moe = loads.WithoutEmptyLayers()!;
            Assert.Equal(Enumerable.Range(3, 58), moe.LayerIds);
            peakToMean.AddRange(Enumerable.Range(0, moe.LayerCount).Select(moe.PeakToMean));
        }

        // The data README: "the busiest expert carries about 2.6x to 13.7x the mean load".
        Assert.InRange(peakToMean.Min(), 2.55, 2.65);
        Assert.InRange(peakToMean.Max(), 13.65, 13.75);
    }

    [Fact]
    public void Empty_MP5101()
    {
        Single(Read("  \n "), DiagnosticCodes.LoadFileEmpty);
        Single(Read("layer,expert,load\n"), DiagnosticCodes.LoadFileEmpty);
    }

    [Fact]
    public void CsvHeader_MP5102_AtLineOne()
    {
        var d = Single(Read("0,0,1\n0,1,2\n"), DiagnosticCodes.LoadCsvHeader);
        Assert.Equal((1, 1), (d.Span!.Value.Line, d.Span.Value.Column));
        Assert.Equal("loads.txt(1,1): error MP5102: expected the header 'layer,expert,load', found '0,0,1' [hint: the first line must name the columns: layer,expert,load]", d.ToString());
    }

    [Fact]
    public void CsvFieldCount_MP5103()
    {
        var d = Single(Read("layer,expert,load\n0,0,1\n0,1\n"), DiagnosticCodes.LoadCsvFieldCount);
        Assert.Equal(3, d.Span!.Value.Line);
        Assert.Contains("found 2", d.Message);
    }

    [Fact]
    public void NotNumeric_MP5104_WithColumn()
    {
        var d = Single(Read("layer,expert,load\n0,0,abc\n"), DiagnosticCodes.LoadNotNumeric);
        Assert.Equal((2, 5), (d.Span!.Value.Line, d.Span.Value.Column));
        Single(Read("layer,expert,load\n0,0,NaN\n"), DiagnosticCodes.LoadNotNumeric);

        var json = Single(Read("[[1, 2],\n [3, \"x\"]]"), DiagnosticCodes.LoadNotNumeric);
        Assert.Equal((2, 6), (json.Span!.Value.Line, json.Span.Value.Column));
        Assert.Contains("\"x\"", json.Message);
        Single(Read("[[1, null]]"), DiagnosticCodes.LoadNotNumeric);
        Single(Read("[[1, 1e999]]"), DiagnosticCodes.LoadNotNumeric);
    }

    [Fact]
    public void Negative_MP5105()
    {
        var csv = Single(Read("layer,expert,load\n0,0,-1\n"), DiagnosticCodes.LoadNegative);
        Assert.Equal((2, 5), (csv.Span!.Value.Line, csv.Span.Value.Column));
        var json = Single(Read("{\"logical_count\": [[1, -2.5]]}"), DiagnosticCodes.LoadNegative);
        Assert.Equal((1, 24), (json.Span!.Value.Line, json.Span.Value.Column));
    }

    [Fact]
    public void BadIndex_MP5106()
    {
        Single(Read("layer,expert,load\n-1,0,1\n"), DiagnosticCodes.LoadBadIndex);
        Single(Read("layer,expert,load\n0,1.5,1\n"), DiagnosticCodes.LoadBadIndex);
        var beyond = Single(Read("layer,expert,load\n0,4,1\n", experts: 4), DiagnosticCodes.LoadBadIndex);
        Assert.Contains("from 0 to 3", beyond.Message);
    }

    [Fact]
    public void Duplicate_MP5107_NamesFirstLine()
    {
        var d = Single(Read("layer,expert,load\n0,0,1\n0,1,1\n0,0,2\n"), DiagnosticCodes.LoadDuplicateEntry);
        Assert.Equal(4, d.Span!.Value.Line);
        Assert.Contains("line 2", d.Message);
    }

    [Fact]
    public void MissingExperts_MP5108()
    {
        var d = Single(Read("layer,expert,load\n0,0,1\n0,1,1\n0,2,1\n0,3,1\n1,0,1\n1,3,1\n"), DiagnosticCodes.LoadMissingExperts);
        Assert.Equal("layer 1 has no load for expert(s) 1..2", d.Message);
        Assert.Equal(6, d.Span!.Value.Line);
    }

    [Fact]
    public void MissingLayers_MP5109()
    {
        var csv = Single(Read("layer,expert,load\n0,0,1\n2,0,1\n5,0,1\n"), DiagnosticCodes.LoadMissingLayers);
        Assert.Equal("no loads for layer(s) 1, 3..4", csv.Message);
        var json = Single(Read("[[1], [2]]", layers: 4), DiagnosticCodes.LoadMissingLayers);
        Assert.Equal("no loads for layer(s) 2..3", json.Message);
    }

    [Fact]
    public void Ragged_MP5110_PointsAtTheRow()
    {
        var d = Single(Read("[[1, 2, 3],\n [4, 5]]"), DiagnosticCodes.LoadRaggedRows);
        Assert.Equal((2, 2), (d.Span!.Value.Line, d.Span.Value.Column));
        Assert.Equal("layer 1 has 2 expert loads but layer 0 has 3; every layer needs the same number of experts", d.Message);
    }

    [Fact]
    public void JsonSyntax_MP5111_WithPosition()
    {
        var d = Single(Read("[[1, 2],\n [3 4]]"), DiagnosticCodes.LoadJsonSyntax);
        Assert.Equal(2, d.Span!.Value.Line);
        Single(Read("[[1]] x"), DiagnosticCodes.LoadJsonSyntax);
        Single(Read("{\"logical_count\": [[1]]"), DiagnosticCodes.LoadJsonSyntax);
    }

    [Fact]
    public void WrongShape_MP5112()
    {
        Assert.Contains("found a number", Single(Read("[1, 2, 3]"), DiagnosticCodes.LoadWrongShape).Message);
        Assert.Contains("expected a number, found an array", Single(Read("[[[1, 2]], [[3, 4]]]"), DiagnosticCodes.LoadWrongShape).Message);
        Assert.Contains("logical_count", Single(Read("{\"physical_count\": [[1]]}"), DiagnosticCodes.LoadWrongShape).Message);
        Single(Read("[]"), DiagnosticCodes.LoadWrongShape);
        Single(Read("[[]]"), DiagnosticCodes.LoadWrongShape);
        Single(Read("[[1]]", ExpertLoadFormat.Sglang), DiagnosticCodes.LoadWrongShape);
    }

    [Fact]
    public void ModelMismatch_MP5113()
    {
        Assert.Equal("the file has 3 experts per layer but the model has 4", Single(Read("[[1, 2, 3]]", experts: 4), DiagnosticCodes.LoadShapeMismatch).Message);
        Single(Read("[[1], [2], [3]]", layers: 2), DiagnosticCodes.LoadShapeMismatch);
    }

    [Fact]
    public void AllZero_MP5114_IsAWarning()
    {
        var result = Read("[[0, 0], [0, 0]]");
        Assert.True(result.Succeeded);
        Assert.Equal(DiagnosticCodes.LoadAllZero, Assert.Single(result.Diagnostics).Descriptor);
    }

    [Fact]
    public void LoadsTooLarge_MP5119_AtTheValueWhereTheTotalOverflows()
    {
        // Each value is a finite double, but 1e308 + 1e308 = +inf > double.MaxValue (1.7977e308): every sum downstream
        // (rank loads, imbalance, metrics) would be infinite or NaN, and JSON writers refuse those.
        var json = Single(Read("[[1e308, 1e308], [1, 2]]"), DiagnosticCodes.LoadsTooLarge);
        Assert.Equal((1, 10), (json.Span!.Value.Line, json.Span.Value.Column));
        var csv = Single(Read("layer,expert,load\n0,0,1e308\n0,1,5e307\n1,0,1e308\n1,1,1\n"), DiagnosticCodes.LoadsTooLarge);
        Assert.Equal((4, 5), (csv.Span!.Value.Line, csv.Span.Value.Column));
        Assert.True(Read("[[1e300, 1e300], [1, 2]]").Succeeded);
    }

    [Fact]
    public void TooManyErrors_MP5115()
    {
        var text = "layer,expert,load\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"0,{i},bad\n"));
        var result = Read(text);
        Assert.False(result.Succeeded);
        Assert.Equal(ExpertLoadReader.MaxErrors, result.Diagnostics.Count(d => d.Descriptor == DiagnosticCodes.LoadNotNumeric));
        Assert.Equal(DiagnosticCodes.LoadTooManyErrors, result.Diagnostics[^1].Descriptor);
    }

    [Fact]
    public void ByteOrderMarkAndNonAscii_DoNotBreakPositions()
    {
        Assert.True(Read("\uFEFF[[1, 2]]").Succeeded);
        Assert.True(Read("\uFEFFlayer,expert,load\n0,0,1\n").Succeeded);
        var d = Single(Read("{\"é\": 1, \"logical_count\": [[1, -1]]}"), DiagnosticCodes.LoadNegative);
        Assert.Equal(32, d.Span!.Value.Column);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("[[1,")]
    [InlineData("{\"logical_count\": 5}")]
    [InlineData("{\"logical_count\": [[1], {\"a\": 1}]}")]
    [InlineData("layer,expert,load\n,,\n")]
    [InlineData("layer,expert,load\n99999999999,0,1\n")]
    [InlineData("\"just a string\"")]
    [InlineData("[[1, 2], 3, [4, 5]]")]
    public void Garbage_GivesErrorsNotExceptions(string text)
    {
        var result = Read(text);
        Assert.False(result.Succeeded);
        Assert.Contains(result.Diagnostics, d => d.IsError);
        Assert.All(result.Diagnostics, d => Assert.StartsWith("MP51", d.Code));
    }
}
