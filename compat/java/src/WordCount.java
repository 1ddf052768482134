// Kafka Streams word count for compat/java/streams_check.sh: reads lines from
// an input topic, counts space-separated words into a KTable (a persistent
// store, changelogged to a compacted topic Streams creates), and writes every
// count change to an output topic (key: word, value: count as a big-endian
// long).
//
//   java WordCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR [GUARANTEE]
//
// GUARANTEE is the processing.guarantee: at_least_once (the default) or
// exactly_once_v2 (transactions: the output, the changelog, the repartition
// topic and the consumed offsets commit together).
//
// Runs until SIGTERM, then closes cleanly (committing what it processed) and
// prints "closed clean". It prints its state changes, every finished store
// restoration ("restored STORE PARTITION N"), and any uncaught exception,
// each line after the seconds since start.

import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.StateRestoreListener;

public final class WordCount {
    private static final long START = System.nanoTime();

    // say prints one line of the app's own report, after the seconds since
    // start ("2.345 state REBALANCING -> RUNNING").
    private static synchronized void say(String line) {
        System.out.println(String.format(Locale.ROOT, "%.3f %s", (System.nanoTime() - START) / 1e9, line));
        System.out.flush();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 5 && args.length != 6) {
            System.err.println("usage: WordCount BOOTSTRAP APPLICATION_ID INPUT OUTPUT STATE_DIR [GUARANTEE]");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, args[1]);
        props.put(StreamsConfig.STATE_DIR_CONFIG, args[4]);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, args.length == 6 ? args[5] : StreamsConfig.AT_LEAST_ONCE);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 200);
        props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, 1);
        // A static member (KIP-345): closing with leaveGroup(true) removes it
        // from the group (LeaveGroup by group.instance.id), so a restarted
        // instance is assigned its tasks at once instead of after the old
        // member's session timeout (45 s); Streams leaves no group otherwise.
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), args[1] + "-instance");

        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(args[2], Consumed.with(Serdes.String(), Serdes.String()))
                .flatMapValues(line -> Arrays.asList(line.split(" ")))
                .filter((key, word) -> !word.isEmpty())
                .groupBy((key, word) -> word, Grouped.with(Serdes.String(), Serdes.String()))
                .count(Materialized.as("word-counts"))
                .toStream()
                .to(args[3], Produced.with(Serdes.String(), Serdes.Long()));

        KafkaStreams streams = new KafkaStreams(builder.build(), props);
        CountDownLatch done = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            say("state " + before + " -> " + now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            say("uncaught exception:");
            e.printStackTrace(System.out);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.setGlobalStateRestoreListener(new StateRestoreListener() {
            @Override
            public void onRestoreStart(TopicPartition tp, String store, long start, long end) {
                say("restoring " + store + " " + tp + " offsets " + start + ".." + end);
            }

            @Override
            public void onBatchRestored(TopicPartition tp, String store, long batchEnd, long n) {
            }

            @Override
            public void onRestoreEnd(TopicPartition tp, String store, long total) {
                say("restored " + store + " " + tp.partition() + " " + total);
            }
        });
        Thread hook = new Thread(() -> {
            boolean clean = streams.close(new KafkaStreams.CloseOptions().timeout(Duration.ofSeconds(30)).leaveGroup(true));
            say(clean ? "closed clean" : "close timed out");
            System.out.flush();
        });
        Runtime.getRuntime().addShutdownHook(hook);
        streams.start();
        done.await();
        // ERROR, or closed by the hook: in both cases the JVM exits now.
        if (streams.state() == KafkaStreams.State.ERROR) {
            System.exit(1);
        }
    }
}
