using MoePlan.Emulation.Kernels;

namespace MoePlan.Emulation.Tests;

public sealed class AmlaShapeTests
{
    [Theory]
    // Products beyond a long: 2,147,483,647^2 x 576 = 2.66e21 > 9.22e18 (the fuzzer found this one wrapping to a small value).
    [InlineData(1, 1147483647, 2147483647)]
    [InlineData(int.MaxValue, int.MaxValue, int.MaxValue)]
    // One array's worth: 29 x 131,072 x 576 = 2,189,426,688 > Array.MaxLength.
    [InlineData(1, 131072, 29)]
    // Within one array but over 2^30 input values: 1,024 x (1,024 + 2,048) x 576 = 1,811,939,328.
    [InlineData(1024, 2048, 1024)]
    [InlineData(0, 1, 1)]
    [InlineData(1, -1, 1)]
    [InlineData(1, 1, int.MinValue)]
    public void Shapes_the_emulator_cannot_hold_are_refused(int heads, int kvLen, int batch) =>
        Assert.NotNull(new AmlaShape(heads, kvLen, batch, 1).TooLarge());

    [Theory]
    [InlineData(128, 1024, 1)]
    // docs/amla.md's largest: 24 x (128 + 32,768) x 576 = 454,778,880 <= 2^30.
    [InlineData(128, 32768, 24)]
    public void Shapes_within_bounds_are_accepted(int heads, int kvLen, int batch) =>
        Assert.Null(new AmlaShape(heads, kvLen, batch, 1).TooLarge());
}
