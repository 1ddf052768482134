// A few Admin client calls for the compat checks, printed in a form a shell
// script can compare.
//
//   java CompatAdmin BOOTSTRAP create PARTITIONS TOPIC...
//   java CompatAdmin BOOTSTRAP describe TOPIC...
//
// describe prints one line per topic: "TOPIC partitions=N cleanup.policy=V",
// or "TOPIC missing" when the topic does not exist. Exits 1 on any other error.

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;

public final class CompatAdmin {
    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: CompatAdmin BOOTSTRAP create PARTITIONS TOPIC... | describe TOPIC...");
            System.exit(2);
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 30000);
        try (Admin admin = Admin.create(props)) {
            switch (args[1]) {
                case "create" -> {
                    int partitions = Integer.parseInt(args[2]);
                    List<NewTopic> topics = new ArrayList<>();
                    for (int i = 3; i < args.length; i++) {
                        topics.add(new NewTopic(args[i], partitions, (short) 1));
                    }
                    admin.createTopics(topics).all().get();
                    System.out.println("created " + topics.size());
                }
                case "describe" -> {
                    for (int i = 2; i < args.length; i++) {
                        System.out.println(describe(admin, args[i]));
                    }
                }
                default -> {
                    System.err.println("unknown command " + args[1]);
                    System.exit(2);
                }
            }
        }
    }

    private static String describe(Admin admin, String topic) throws Exception {
        TopicDescription d;
        try {
            d = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return topic + " missing";
            }
            throw e;
        }
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        Map<ConfigResource, Config> cfgs = admin.describeConfigs(List.of(r)).all().get();
        String policy = cfgs.get(r).get("cleanup.policy") == null ? "(none)" : cfgs.get(r).get("cleanup.policy").value();
        return topic + " partitions=" + d.partitions().size() + " cleanup.policy=" + policy;
    }
}
