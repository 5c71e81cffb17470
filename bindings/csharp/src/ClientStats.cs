using System;
using System.Globalization;

namespace Ocrcloud
{
    /// <summary>The figures of <c>ocr_client_stats</c> (<c>OCR_STAT_*</c>).</summary>
    internal enum ClientStat
    {
        Requests = 1,
        Retries = 2,
        Throttled = 3,
        TokenFetches = 4,
        Rate = 5,
        BreakerOpen = 6,
        RetryQuota = 7,
    }

    /// <summary>
    /// The request budget of an <see cref="OcrClient"/>, from <see cref="OcrClient.GetStats"/>:
    /// counts since the client was created and its state now. Immutable.
    /// </summary>
    public sealed class ClientStats : IEquatable<ClientStats>
    {
        public ClientStats(long requests, long retries, long throttled, long tokenFetches, double rate,
            bool breakerOpen, int retryQuota)
        {
            Requests = requests;
            Retries = retries;
            Throttled = throttled;
            TokenFetches = tokenFetches;
            Rate = rate;
            BreakerOpen = breakerOpen;
            RetryQuota = retryQuota;
        }

        /// <summary>Requests sent (every attempt, token requests included).</summary>
        public long Requests { get; private set; }
        /// <summary>Retries of failed requests (not the polls of a poll).</summary>
        public long Retries { get; private set; }
        /// <summary>Answers 429 or 503.</summary>
        public long Throttled { get; private set; }
        /// <summary>Token requests.</summary>
        public long TokenFetches { get; private set; }
        /// <summary>The requests per second allowed now; 0: unlimited.</summary>
        public double Rate { get; private set; }
        /// <summary>Whether the circuit breaker is open (requests fail at once, without being sent).</summary>
        public bool BreakerOpen { get; private set; }
        /// <summary>The retry quota left: 500 at most; a retry costs 5 (10 after a timeout), a success gives 1 back.</summary>
        public int RetryQuota { get; private set; }

        public bool Equals(ClientStats other)
        {
            return other != null && Requests == other.Requests && Retries == other.Retries &&
                Throttled == other.Throttled && TokenFetches == other.TokenFetches &&
                Rate.Equals(other.Rate) && BreakerOpen == other.BreakerOpen && RetryQuota == other.RetryQuota;
        }

        public override bool Equals(object other)
        {
            return Equals(other as ClientStats);
        }

        public override int GetHashCode()
        {
            unchecked
            {
                int hash = Requests.GetHashCode();
                hash = hash * 31 + Retries.GetHashCode();
                hash = hash * 31 + Throttled.GetHashCode();
                hash = hash * 31 + TokenFetches.GetHashCode();
                hash = hash * 31 + Rate.GetHashCode();
                hash = hash * 31 + BreakerOpen.GetHashCode();
                return hash * 31 + RetryQuota;
            }
        }

        public override string ToString()
        {
            return string.Format(CultureInfo.InvariantCulture,
                "ClientStats(Requests={0}, Retries={1}, Throttled={2}, TokenFetches={3}, Rate={4}, BreakerOpen={5}, RetryQuota={6})",
                Requests, Retries, Throttled, TokenFetches, Rate, BreakerOpen, RetryQuota);
        }
    }
}
