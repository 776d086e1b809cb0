using MoePlan.Emulation.Emulator;

namespace MoePlan.Emulation.Tests;

public class FloatBitsTests
{
    [Theory]
    [InlineData(1.5f, -3, 0.1875f)]
    [InlineData(-6.0f, -1, -3.0f)]
    [InlineData(3.0f, 2, 12.0f)]
    [InlineData(1.0f, -126, 1.17549435e-38f)] // smallest normal: still representable
    public void Normal_values_are_scaled_exactly(float x, int shift, float expected) =>
        Assert.Equal(expected, FloatBits.AddToExponent(x, shift));

    [Fact]
    public void Zero_keeps_its_sign_where_a_bare_integer_add_makes_garbage()
    {
        // The hazard: int32(+0) + (-1 << 23) is the bit pattern of -Inf.
        Assert.Equal(float.NegativeInfinity, BitConverter.Int32BitsToSingle(0 + (-1 << 23)));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(0f, -1)));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(-0f, -5)));
    }

    [Fact]
    public void Subnormals_flush_to_signed_zero()
    {
        float sub = 1e-40f;
        Assert.True(float.IsSubnormal(sub));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(sub, -1)));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(-sub, -1)));
    }

    [Fact]
    public void Underflow_flushes_to_signed_zero_and_never_wraps_into_the_sign_bit()
    {
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(1.5f, -127)));
        Assert.Equal(0x8000_0000u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(-1.5f, -200)));
        Assert.Equal(0u, BitConverter.SingleToUInt32Bits(FloatBits.AddToExponent(float.MaxValue, -255)));
    }

    [Fact]
    public void Nan_and_infinities_pass_unchanged_and_overflow_saturates()
    {
        Assert.True(float.IsNaN(FloatBits.AddToExponent(float.NaN, -3)));
        Assert.Equal(float.PositiveInfinity, FloatBits.AddToExponent(float.PositiveInfinity, -3));
        Assert.Equal(float.NegativeInfinity, FloatBits.AddToExponent(float.NegativeInfinity, -3));
        Assert.Equal(float.NegativeInfinity, FloatBits.AddToExponent(-float.MaxValue, 1));
    }

    [Fact]
    public void Increment_saturates_and_round_trips()
    {
        Assert.Equal(-3 << 23, FloatBits.ExponentIncrement(-3));
        Assert.Equal(-255 << 23, FloatBits.ExponentIncrement(-100_000));
        Assert.Equal(-7, FloatBits.ShiftOfIncrement(FloatBits.ExponentIncrement(-7)));
    }

    [Theory]
    [InlineData(1.0f + 1.0f / 256, 1.0f)]                 // exact tie (half ulp 2^-8): to even
    [InlineData(1.0f + 3.0f / 256, 1.0f + 1.0f / 64)]     // tie between 1+2^-7 (odd) and 1+2^-6 (even)
    [InlineData(1.0f + 1.0f / 256 + 1.0f / 65536, 1.0f + 1.0f / 128)] // above the tie: up
    [InlineData(-2.5f, -2.5f)]                            // representable
    [InlineData(float.PositiveInfinity, float.PositiveInfinity)]
    public void Bf16_rounding_is_to_nearest_even(float x, float expected) =>
        Assert.Equal(expected, FloatBits.RoundToBf16(x));

    [Fact]
    public void Simd_bf16_rounding_matches_scalar_including_special_values()
    {
        var values = Inputs.Normal(1001, seed: 9, scale: 1e3).Concat([float.NaN, float.NegativeInfinity, 1e-40f, -0f, 3.4e38f]).ToArray();
        var simd = (float[])values.Clone();
        HostSimd.RoundToBf16(simd);
        for (int i = 0; i < values.Length; i++)
        {
            Assert.Equal(BitConverter.SingleToUInt32Bits(FloatBits.RoundToBf16(values[i])), BitConverter.SingleToUInt32Bits(simd[i]));
        }
    }
}
