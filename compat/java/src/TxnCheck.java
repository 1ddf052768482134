// The Java client's transactions for compat/java/txn_check.sh: a
// consume-transform-produce loop with a transactional KafkaProducer and a
// read_committed KafkaConsumer in a group, against the agent.
//
//   java TxnCheck BOOTSTRAP PREFIX
//
// PREFIX-in (2 partitions) gets 20 plain records per partition. A group
// member reads them; a transactional producer writes each record's
// transformation to PREFIX-out (same partition) and sends the consumed
// offsets to the transaction with the member's group metadata:
//   1. offsets 0..9 of each partition, committed;
//   2. offsets 10..19, aborted (the member seeks back to 10);
//   3. offsets 10..19 again, committed;
//   4. a zombie: a transaction left open when a second producer with the
//      same transactional.id calls initTransactions; its commit must fail
//      with ProducerFencedException.
// Then a read_committed consumer of PREFIX-out must see each input record's
// transformation exactly once (no record of 2 or 4), read_uncommitted all of
// them, and the group's committed offsets must be 10 after step 2 and 20
// at the end. Prints one line per step; on failure "FAIL: reason" and exit 1.

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class TxnCheck {
    private static final int PER_PARTITION = 20;

    private static String boot, in, out, group;

    private static void fail(String why) {
        System.out.println("FAIL: " + why);
        System.out.flush();
        System.exit(1);
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: TxnCheck BOOTSTRAP PREFIX");
            System.exit(2);
        }
        boot = args[0];
        in = args[1] + "-in";
        out = args[1] + "-out";
        group = args[1] + "-group";
        String tid = args[1] + "-tid";
        Properties ap = new Properties();
        ap.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        ap.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        try (Admin admin = Admin.create(ap)) {
            admin.createTopics(List.of(new NewTopic(in, 2, (short) 1), new NewTopic(out, 2, (short) 1))).all().get();

            try (KafkaProducer<String, String> plain = new KafkaProducer<>(producerProps(null))) {
                for (int p = 0; p < 2; p++) {
                    for (int i = 0; i < PER_PARTITION; i++) {
                        plain.send(new ProducerRecord<>(in, p, "k" + p + "-" + i, "v" + p + "-" + i));
                    }
                }
                plain.flush();
            }

            Properties cp = consumerProps("read_committed");
            cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
            cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            try (KafkaConsumer<String, String> member = new KafkaConsumer<>(cp);
                    KafkaProducer<String, String> producer = new KafkaProducer<>(producerProps(tid))) {
                producer.initTransactions();
                member.subscribe(List.of(in));
                Map<TopicPartition, List<ConsumerRecord<String, String>>> input = new HashMap<>();
                long deadline = System.currentTimeMillis() + 30000;
                int n = 0;
                while (n < 2 * PER_PARTITION && System.currentTimeMillis() < deadline) {
                    for (ConsumerRecord<String, String> r : member.poll(Duration.ofMillis(500))) {
                        input.computeIfAbsent(new TopicPartition(r.topic(), r.partition()), k -> new ArrayList<>()).add(r);
                        n++;
                    }
                }
                if (n != 2 * PER_PARTITION) {
                    fail("the group member read " + n + " input records, want " + 2 * PER_PARTITION);
                }

                transform(producer, member, input, 0, 10);
                producer.commitTransaction();
                checkOffsets(admin, 10, "after the first commit");
                System.out.println("1. offsets 0..9 transformed and committed with the group's offsets");

                transform(producer, member, input, 10, 20);
                producer.abortTransaction();
                checkOffsets(admin, 10, "after the abort");
                for (TopicPartition tp : input.keySet()) {
                    member.seek(tp, 10);
                }
                System.out.println("2. offsets 10..19 transformed and aborted; the group's offsets stay at 10");

                transform(producer, member, input, 10, 20);
                producer.commitTransaction();
                checkOffsets(admin, 20, "after the second commit");
                System.out.println("3. offsets 10..19 transformed again and committed");

                producer.beginTransaction();
                producer.send(new ProducerRecord<>(out, 0, "zombie", "zombie")).get();
                try (KafkaProducer<String, String> next = new KafkaProducer<>(producerProps(tid))) {
                    next.initTransactions();
                }
                try {
                    producer.commitTransaction();
                    fail("a fenced producer committed its transaction");
                } catch (ProducerFencedException e) {
                    System.out.println("4. the zombie's commit failed: " + e.getClass().getSimpleName());
                } catch (KafkaException e) {
                    fail("the zombie's commit failed with " + e + ", want ProducerFencedException");
                }
            }
        }

        // Every input record's transformation exactly once under read_committed.
        Map<Integer, List<String>> want = new TreeMap<>();
        for (int p = 0; p < 2; p++) {
            want.put(p, new ArrayList<>());
            for (int i = 0; i < PER_PARTITION; i++) {
                want.get(p).add("k" + p + "-" + i + "=V" + p + "-" + i);
            }
        }
        Map<Integer, List<String>> got = readAll("read_committed");
        if (!got.equals(want)) {
            fail("read_committed sees " + got + ", want " + want);
        }
        // Everything (1, 2, 3 and the zombie) under read_uncommitted.
        Map<Integer, List<String>> all = readAll("read_uncommitted");
        int total = all.values().stream().mapToInt(List::size).sum();
        if (total != 3 * PER_PARTITION + 1 || !all.get(0).contains("zombie=zombie")) {
            fail("read_uncommitted sees " + total + " records, want " + (3 * PER_PARTITION + 1) + " (with the zombie's)");
        }
        System.out.println("transactions: read_committed saw each of the " + 2 * PER_PARTITION
                + " transformations once; read_uncommitted also the aborted and the zombie's (" + total + ")");
    }

    // transform: one transaction writing the transformation of the input
    // offsets [from, to) of each partition, and sending the offset `to`.
    private static void transform(KafkaProducer<String, String> producer, KafkaConsumer<String, String> member,
            Map<TopicPartition, List<ConsumerRecord<String, String>>> input, int from, int to) throws Exception {
        producer.beginTransaction();
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
        for (Map.Entry<TopicPartition, List<ConsumerRecord<String, String>>> e : input.entrySet()) {
            for (ConsumerRecord<String, String> r : e.getValue()) {
                if (r.offset() >= from && r.offset() < to) {
                    producer.send(new ProducerRecord<>(out, r.partition(), r.key(), r.value().toUpperCase()));
                }
            }
            offsets.put(e.getKey(), new OffsetAndMetadata(to));
        }
        producer.sendOffsetsToTransaction(offsets, member.groupMetadata());
        producer.flush();
    }

    private static void checkOffsets(Admin admin, long want, String when) throws Exception {
        Map<TopicPartition, OffsetAndMetadata> got = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
        for (int p = 0; p < 2; p++) {
            OffsetAndMetadata o = got.get(new TopicPartition(in, p));
            if (o == null || o.offset() != want) {
                fail(when + ": the group's offset of " + in + "-" + p + " is " + (o == null ? "none" : o.offset()) + ", want " + want);
            }
        }
    }

    // readAll: "key=value" of every record of `out` per partition, from the
    // beginning to the end offsets a consumer of that isolation level sees.
    private static Map<Integer, List<String>> readAll(String isolation) {
        Map<Integer, List<String>> got = new TreeMap<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(isolation))) {
            List<TopicPartition> tps = List.of(new TopicPartition(out, 0), new TopicPartition(out, 1));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 30000;
            while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp)) && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    got.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.key() + "=" + r.value());
                }
            }
            for (TopicPartition tp : tps) {
                if (c.position(tp) < end.get(tp)) {
                    fail(isolation + " consumer of " + tp + " at " + c.position(tp) + ", end " + end.get(tp) + " not reached in 30 s");
                }
            }
        }
        return got;
    }

    private static Properties producerProps(String transactionalId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 30000);
        if (transactionalId != null) {
            p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
        }
        return p;
    }

    private static Properties consumerProps(String isolation) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, boot);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        return p;
    }
}
